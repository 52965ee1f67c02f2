// Package runtime is vexil's rule engine: the definitions and rules document
// models, the filter language, the compiler and the compiled, immutable
// configuration that evaluates flags in nanoseconds.
//
// Generated code imports it as vexilrt.
package runtime
