# syntax=docker/dockerfile:1
# `mkio serve` in a container (docs/deployment.md).
#   docker build --build-arg DOTNET_IMAGES=<prefix of Microsoft's .NET images> -t mkio .
#   docker run -d -p 8080:8080 -v mkio-data:/data -v "$PWD/mkio.toml:/etc/mkio/mkio.toml:ro" mkio
# The config is read from /etc/mkio/mkio.toml (an example is built in); the working directory is the
# /data volume, so a relative db_path (and backup_dir) lands there. Settings can be overridden with
# Mkio__* environment variables, e.g. -e Mkio__DbPath=/data/orders.db.

ARG DOTNET_VERSION=10.0
# DOTNET_IMAGES (required): the repository prefix of Microsoft's official .NET images, i.e. the
# prefix that precedes /sdk and /aspnet in Microsoft's own image names (its container registry + /dotnet).
# The project writes no registry host into its files; pass it at build time.
ARG DOTNET_IMAGES

FROM ${DOTNET_IMAGES}/sdk:${DOTNET_VERSION} AS build
WORKDIR /src
# Build inputs only (.dockerignore keeps bin/, obj/ and databases out of the context).
COPY global.json nuget.config Directory.Build.props Directory.Packages.props .editorconfig ./
COPY eng/ eng/
COPY src/ src/
RUN dotnet publish src/Mkio.Cli/Mkio.Cli.csproj -c Release -o /out

FROM ${DOTNET_IMAGES}/aspnet:${DOTNET_VERSION}
COPY --from=build /out /opt/mkio
COPY deploy/mkio.example.toml /etc/mkio/mkio.toml
# The image's non-root user ($APP_UID, "app") owns the data folder and nothing else.
RUN mkdir -p /data && chown "$APP_UID" /data
USER $APP_UID
WORKDIR /data
VOLUME /data
EXPOSE 8080
# /health answers 200 while mkio runs (Healthy or Degraded) and 503 when it is not. The runtime image
# has no curl, so the probe speaks HTTP over bash's /dev/tcp.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/opt/mkio/mkio"]
CMD ["serve", "/etc/mkio/mkio.toml", "--host", "0.0.0.0", "--port", "8080"]
