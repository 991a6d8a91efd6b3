import Hummingbird

/// Notes where the client is (``WharfRequestContext/clientRegion``), for geographic steering.
struct ClientRegionMiddleware: RouterMiddleware {
    typealias Context = WharfRequestContext
    let regions: ClientRegions

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        context.clientRegion = regions.region(headers: request.headers, address: context.clientAddress)
        return try await next(request, context)
    }
}
