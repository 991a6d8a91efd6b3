package import Foundation

/// The OpenAPI document of `/v1` (`openapi/v1.yaml`), compiled into the binary so the gateway serves
/// exactly the contract it was built from.
package enum V1Document {
    /// The document's bytes.
    package static var data: Data { Data(PackageResources.v1_yaml) }
}
