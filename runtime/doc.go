// Package runtime is vexil's rule engine: the definitions and rules document
// models, the compiler and the compiled, immutable configuration that
// evaluates flags in nanoseconds. The filter language itself (syntax tree,
// parser, formatter) is internal/filter; the compiler checks its names and
// types against the definitions.
//
// Generated code imports it as vexilrt, and so do the client
// (runtime/client), the OpenFeature provider (runtime/openfeature) and the
// programs that use them. What they need is all this package exports:
//
//   - documents: ParseDefinitions, ParseRules, MergeRules and their models
//     (Definitions, FlagDef, AttrDef, RulesDoc, RuleDef, FilterDef), with
//     Diagnostics for what is wrong in them;
//   - compiling: Compile, CompileOptions, FixedConfig, SchemaHash,
//     ContentVersion;
//   - evaluating: Config, Evaluation, Value and its constructors, Explain,
//     SplitPercent; Holder and ConfigSource to swap configs under readers;
//     Observer and TargetKey for exposure events, Tracker, MetricID and
//     MetricDef for metric events.
//
// A few names are for generated code only and are not meant to be called by
// hand: SupportPackageIsVersion1, SupportPackageIsVersion2,
// SupportPackageIsVersion3, NonEmptyString, OptionalBool, OptionalInt,
// OptionalFloat, OptionalIntSet, OptionalStringSet, Config.VariantIndex,
// Config.VariantIndexes and Config.Track. They are kept stable for the generated code that
// calls them; their behaviour is whatever that code needs.
package runtime

// SupportPackageIsVersion1 is referenced by generated code
// (const _ = vexilrt.SupportPackageIsVersion1) so that a generated file and
// a runtime that no longer support each other fail to compile, with this
// name in the error, instead of misbehaving when run. A runtime that breaks
// what generated code relies on adds SupportPackageIsVersion2 and generates
// references to it; it keeps SupportPackageIsVersion1 for as long as it
// still serves files generated against it.
const SupportPackageIsVersion1 = true

// SupportPackageIsVersion2 is referenced by generated code whose
// definitions have float or object flags, which a runtime without it
// cannot read.
const SupportPackageIsVersion2 = true

// SupportPackageIsVersion3 is referenced by generated code whose
// definitions declare metrics: its View.Track<Metric> methods call
// Config.Track, which a runtime without it does not have.
const SupportPackageIsVersion3 = true
