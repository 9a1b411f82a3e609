// Type declarations for mkio.js (mkio for .NET), the JavaScript client served at /mkio.js.
// Public API of the mkio 0.1.0 JavaScript client, plus the documented additions
// (onNack, WebSocket, connectTimeout) and the later mode ({protocol: "later"}: subids, paging,
// request(), identify(), getmore()).

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
  /**
   * Addition: `"later"` speaks the later mkio protocol (subscribe with protocol and subid, txnid on sends,
   * paging, request(), identify()). Anything else (default): exactly the mkio 0.1.0 client.
   */
  protocol?: "later" | string;
  /** Addition: log in with this `auth` data (e.g. `{username, password}`) on every (re)connect, before resubscribing. */
  auth?: Record<string, unknown>;
  /** Addition: a bearer token (or a function giving one per upgrade) sent as `?access_token=` for the host's authentication. */
  accessToken?: string | (() => string | null | undefined);
  /** Addition: a login on (re)connect was refused; the client has closed (no retry). */
  onAuthFailed?: (this: MkioClient, message: string) => void;
}

/** The reply to the `auth` message. */
export interface MkioAuthReply {
  type: "auth";
  ok: boolean;
  user?: string;
  role?: string;
  /** Why a login was refused, e.g. `invalid credentials`. */
  message?: string;
  [key: string]: unknown;
}

export interface MkioSendOptions {
  /** Transaction ref (default: a fresh makeRef()). */
  ref?: string;
  /** Named op set. */
  op?: string;
  /** Opaque correlation value echoed on the reply. */
  msgid?: unknown;
  /** Later mode: the transaction id (default `_mkio_t<n>`). */
  txnid?: string;
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

/** Later mode: subscribe options (a later subscription never gets deltas). */
export interface MkioLaterSubscribeOptions extends Omit<MkioSubscribeOptions, "onDelta"> {
  /** The service's protocol (`subpub`, `stream`, `query`); default: what identify() reported. */
  protocol?: string;
  /** Subscription id; default `_mkio_s<n>`. */
  subid?: string;
  /** Only these columns in each row. */
  fields?: string[];
  /** Query services: send a snapshot (default true) / live updates (default true). */
  snapshot?: boolean;
  updates?: boolean;
  /** Topic-keyed subpub services: one topic or several. */
  topic?: unknown;
  /** Page the snapshot: rows per page. Pages are fetched with getmore and onSnapshot gets all rows once, unless onPage is set. */
  maxcount?: number;
  /** Manual paging: called per page; call getmore(subid) for the next while `hasmore`. */
  onPage?: (this: MkioSubscription, rows: MkioRow[], info: { hasmore: boolean; ref?: string; subid: string }) => void;
}

/** Later mode: the answer to request(): a `reply` (value, row or rows), an `error` or a `nack` (they resolve, not reject). */
export interface MkioRequestReply extends MkioMessage {
  type: "reply" | "error" | "nack";
  reqid?: string;
  value?: unknown;
  row?: MkioRow;
  rows?: MkioRow[];
  message?: string;
}

/** Later mode: what identify() resolves with (the `_mkio` row). */
export interface MkioIdentity {
  name: string;
  version: string;
  mkio: string;
  protocol: string;
  services: Record<string, string>;
  tables: string[];
  config_hash?: string;
  uptime?: number;
  started?: string;
  /** Present when versions were given: all checks passed. */
  compatible?: boolean;
  compatibility?: Record<string, boolean>;
  [key: string]: unknown;
}

/** The record stored in `_subscriptions` (its `ref` is the recovery cursor). */
export interface MkioSubscription {
  service: string;
  /** Later mode: the subscription id (the key in `_subscriptions`). */
  subid?: string;
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
  /** Log in (the `auth` message); the data is kept and sent first after every reconnect. Not connected: kept, resolves null. */
  login(username: string, password: string): Promise<MkioAuthReply | null>;
  /** Log in with any `auth` data (e.g. a token for the server's authenticator); kept like login(). */
  auth(data: Record<string, unknown>): Promise<MkioAuthReply | null>;
  /** The user and role of the last accepted login, or null. */
  user: string | null;
  role: string | null;
  accessToken: string | (() => string | null | undefined) | null;
  onAuthFailed: (this: MkioClient, message: string) => void;
  /** Send a transaction; resolves with the `result` or `error`; rejects only with Error("not connected"). */
  send(service: string, data: Record<string, unknown>, opts?: MkioSendOptions): Promise<MkioReply>;
  /** True when constructed with `protocol: "later"`. */
  readonly later: boolean;
  /** Subscribe (replacing any subscription to `service`). */
  subscribe(service: string, opts?: MkioSubscribeOptions): void;
  /** Later mode: subscribe; several subscriptions per service; returns the subid. */
  subscribe(service: string, protocol: string, opts?: MkioLaterSubscribeOptions): string;
  subscribe(service: string, opts: MkioLaterSubscribeOptions): string;
  /** Drop the subscription to `service` (later mode: one subid, or every subscription of a service). */
  unsubscribe(serviceOrSubid: string): void;
  /** Later mode: call a reqrep service; `reqid` defaults to makeRef(). */
  request(service: string, data?: Record<string, unknown>, reqid?: string): Promise<MkioRequestReply>;
  /** Later mode: the server's `_mkio` identity; with versions, `compatible` tells whether it satisfies them. */
  identify(versions?: { version?: string; protocol?: string; mkio?: string }): Promise<MkioIdentity>;
  /** Later mode: the next page of a subscription with onPage. */
  getmore(subid: string): void;
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
