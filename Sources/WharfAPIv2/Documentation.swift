// The types and the server protocol of `/v2` are generated at build time from `openapi.yaml` (a link
// to `openapi/v2.yaml`) by swift-openapi-generator. This file only gives the module a Swift source
// of its own.
