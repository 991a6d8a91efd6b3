// The types and the server protocol of `/admin/v1` are generated at build time from `openapi.yaml`
// (a link to `openapi/admin.yaml`) by swift-openapi-generator. This file only gives the module a
// Swift source of its own.
