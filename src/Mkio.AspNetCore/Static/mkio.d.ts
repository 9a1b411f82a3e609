// Type declarations for mkio.js (mkio for .NET), the JavaScript client served at /mkio.js.
// Public API of the mkio 0.1.0 JavaScript client, plus the documented additions
// (onNack, WebSocket, connectTimeout).

/** A row as published by a subpub/stream/query service (column name -> value). */
export type MkioRow = Record<string, unknown>;

/** One entry of a delta's `changes`. */
export interface MkioChange {
  op: "insert" | "update" | "delete" | "upsert" | string;
  row: MkioRow;
}

/** Any message received from the server. */
export interface MkioMessage {
  type: "result" | "error" | "snapshot" | "delta" | "update" | "nack" | string;
  service?: string;
  ref?: string;
  [key: string]: unknown;
}

/** Reply to send()/check(): a `result` or an `error` (error replies resolve, they do not reject). */
export interface MkioReply extends MkioMessage {
  type: "result" | "error";
  /** `true` on results. */
  ok?: boolean;
  /** Error text on `error` replies. */
  message?: string;
  /** `"unknown"` on a check result when the server has no record of the ref. */
  status?: string;
  msgid?: unknown;
}

/** `{"type":"nack","service":…,"message":…[,"ref":…]}`: a subscription was rejected. */
export interface MkioNack extends MkioMessage {
  type: "nack";
  service: string;
  message: string;
}

/** Minimal shape of the WebSocket constructor the client needs (browser / Node 22 / injected). */
export interface MkioWebSocketLike {
  readonly readyState: number;
  binaryType: string;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  onerror: ((ev: any) => void) | null;
  onclose: ((ev: { code?: number }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type MkioWebSocketConstructor = new (url: string) => MkioWebSocketLike;

export interface MkioClientOptions {
  /** Reconnect automatically after an unexpected close (default true; only `false` disables). */
  reconnect?: boolean;
  /** First reconnect delay in ms, restored after every successful open (default 100). */
  backoffBase?: number;
  /** Reconnect delay ceiling in ms (default 30000). */
  backoffMax?: number;
  /** Called after every successful (re)connect, after subscriptions were re-sent. */
  onConnect?: (this: MkioClient) => void;
  /** Called on every socket close. */
  onDisconnect?: (this: MkioClient) => void;
  /** Addition: a subscription without its own onNack was rejected (it has been removed). */
  onNack?: (this: MkioClient, service: string, message: MkioNack) => void;
  /** Addition: WebSocket constructor to use instead of the global `WebSocket`. */
  WebSocket?: MkioWebSocketConstructor;
  /** Addition: connect() rejects if the socket is not open within this many ms (default 10000; 0 = no limit). */
  connectTimeout?: number;
}

export interface MkioSendOptions {
  /** Transaction ref (default: a fresh makeRef()). */
  ref?: string;
  /** Named op set. */
  op?: string;
  /** Opaque correlation value echoed on the reply. */
  msgid?: unknown;
  /** Any other key is copied to the top level of the message. */
  [key: string]: unknown;
}

export interface MkioSubscribeOptions {
  /** Filter expression (honoured when the service is filterable). */
  filter?: string;
  /** Recovery cursor: the last ref seen. */
  ref?: string;
  onSnapshot?: (this: MkioSubscription, rows: MkioRow[]) => void;
  onDelta?: (this: MkioSubscription, changes: MkioChange[]) => void;
  onUpdate?: (this: MkioSubscription, op: string, row: MkioRow) => void;
  /** Addition: the subscription was rejected (it has been removed and will not be resubscribed). */
  onNack?: (this: MkioSubscription, message: MkioNack) => void;
}

/** The record stored in `_subscriptions` (its `ref` is the recovery cursor). */
export interface MkioSubscription {
  service: string;
  filter: string | null;
  ref: string | null;
  onSnapshot?: MkioSubscribeOptions["onSnapshot"];
  onDelta?: MkioSubscribeOptions["onDelta"];
  onUpdate?: MkioSubscribeOptions["onUpdate"];
  onNack?: MkioSubscribeOptions["onNack"];
}

/** The value stored in `_pending` for an unanswered send()/check(). */
export interface MkioPendingRequest {
  ref: string;
  service: string;
  message: Record<string, unknown>;
  resolve: (reply: MkioReply) => void;
  reject: (error: Error) => void;
}

export class MkioClient {
  constructor(url: string, opts?: MkioClientOptions);

  readonly url: string;
  reconnect: boolean;
  backoffBase: number;
  backoffMax: number;
  connectTimeout: number;
  onConnect: (this: MkioClient) => void;
  onDisconnect: (this: MkioClient) => void;
  onNack: ((this: MkioClient, service: string, message: MkioNack) => void) | null;
  /** The current socket (null while disconnected). */
  ws: MkioWebSocketLike | null;
  /** service -> subscription record (0.1.0 instance state, read by page code). */
  _subscriptions: Map<string, MkioSubscription>;
  /** ref -> pending request (0.1.0 instance state). */
  _pending: Map<string, MkioPendingRequest>;

  /** Open the socket; rejects with an Error if it cannot be opened (refused, bad URL, timeout). */
  connect(): Promise<void>;
  /** Close for good: no reconnect (cancels a pending one). */
  close(): void;
  /** Send a transaction; resolves with the `result` or `error`; rejects only with Error("not connected"). */
  send(service: string, data: Record<string, unknown>, opts?: MkioSendOptions): Promise<MkioReply>;
  /** Subscribe (replacing any subscription to `service`). */
  subscribe(service: string, opts?: MkioSubscribeOptions): void;
  /** Drop the subscription to `service`. */
  unsubscribe(service: string): void;
  /** Ask a transaction service whether `ref` was committed; rejects only with Error("not connected"). */
  check(service: string, ref: string): Promise<MkioReply>;

  /** Alias of makeRef(). */
  static makeRef(): string;
}

/** `YYYYMMDD HH:MM:SS.mmm` (UTC) + a 9-digit per-millisecond counter. */
export function makeRef(): string;

declare global {
  interface Window {
    MkioClient: typeof MkioClient;
    mkioMakeRef: typeof makeRef;
  }
}
