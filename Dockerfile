# syntax=docker/dockerfile:1
# Plaza's image: `docker build -t plaza .`, then `docker run -p 8080:8080 -v plaza-data:/var/lib/plaza plaza`
# (embedded profile), or see docker-compose.yml and deploy/helm/plaza for the services profile.
# Node runs the TypeScript sources itself (type stripping): the server has no build step, only the
# dependencies to install; the web client (web/) is built once here, with Vite. See docs/deploy.md.

ARG NODE_IMAGE=node:24-slim

# Production dependencies, with the binaries their packages ship for this platform: sharp's libvips
# (@img/sharp-*), argon2, and the static ffmpeg and ffprobe (@ffmpeg-installer/*, @ffprobe-installer/*).
FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# The web client is a workspace: its manifest is part of the install (Vite and Preact among its dependencies).
COPY web/package.json ./web/
# The installers' postinstall only makes ffmpeg/ffprobe executable for their owner (root here): the
# app's user must be able to run them too.
RUN npm ci --omit=dev --no-audit --no-fund \
    && chmod 0755 node_modules/@ffmpeg-installer/linux-*/ffmpeg node_modules/@ffprobe-installer/linux-*/ffprobe \
    && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/var/lib/plaza
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY web ./web
COPY deploy/docker/healthcheck.ts ./deploy/docker/healthcheck.ts
# The web client's build, made now so `serve` finds it fresh and never writes under /app.
RUN node --input-type=module -e "import { buildWebClient } from './src/http/web-client-build.ts'; await buildWebClient();"
# The code stays root's and read-only to the app; only DATA_DIR, and the PGlite template cache that
# the embedded profile fills on its first start, are the app's to write.
RUN mkdir -p "$DATA_DIR" node_modules/.cache/plaza && chown 1000:1000 "$DATA_DIR" node_modules/.cache/plaza
# The `node` user of the base image, by number so that Kubernetes' runAsNonRoot can check it.
USER 1000:1000
# Fails the build when the image could not work: libvips loads, ffmpeg and ffprobe are found and
# run as this user, and the embedded database migrates (which also leaves the PGlite template made).
RUN node -e "require('sharp')" \
    && node --input-type=module -e "import { findFfmpeg } from './src/modules/media/processing/ffmpeg.ts'; if ((await findFfmpeg({})) === undefined) throw new Error('no ffmpeg/ffprobe from npm ci');" \
    && DATA_DIR=/tmp/plaza-image-check node src/main.ts migrate \
    && rm -rf /tmp/plaza-image-check
VOLUME ["/var/lib/plaza"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["node", "deploy/docker/healthcheck.ts", "/healthz"]
ENTRYPOINT ["node", "src/main.ts"]
CMD ["serve"]
