// A plugin declares its presets with the gateway's own model (`PluginManifest`, `Preset`,
// `StepKind` from WharfModel), so what a plugin writes and what the gateway runs are one definition.
@_exported public import WharfModel
