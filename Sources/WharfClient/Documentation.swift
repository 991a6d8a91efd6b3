// The client of `/v2` is generated at build time from `openapi.yaml` (a link to `openapi/v2.yaml`)
// by swift-openapi-generator: `Client(serverURL:transport:middlewares:)` with one method per
// operation. This file only gives the module a Swift source of its own.
