import Foundation
import WharfCore
import WharfLivepeer

extension OrchestratorOffer.Price {
    /// Wei per unit as a floating-point number, for scoring only.
    var weiPerUnit: Double { Double(pricePerUnit) / Double(pixelsPerUnit) }
}
