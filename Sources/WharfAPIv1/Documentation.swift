// The types and the server protocol of `/v1` are generated at build time from `openapi.yaml` (a link
// to `openapi/v1.yaml`) by swift-openapi-generator; see README.md. This file only gives the module a
// Swift source of its own.
