// Package diagcode holds the stable codes of vexil's diagnostics, one per
// kind of problem, as staticcheck names its checks: tools sort and filter
// diagnostics by code, never by message text, so messages may be reworded
// freely. A code names the problem, not its severity: the compiler reports
// some problems as errors where people edit and as warnings in a lenient
// client, under the same code. The thousands say where the problem is
// found: 1 the YAML or JSON document, 2 flags.yaml's definitions, 3 a rules
// document, 4 filter syntax, 5 compiling rules against definitions, 6 what
// is only ever a warning, 7 generating code. docs/diagnostics.md documents
// every code; a code, once released, keeps its meaning and is never reused.
package diagcode

// The document: YAML or JSON, either kind of file.
const (
	DocumentTooLarge = "VX1001" // over the 4 MiB limit
	NotUTF8          = "VX1002" // bytes that are not UTF-8
	InvalidYAML      = "VX1003" // YAML that does not parse
	InvalidJSON      = "VX1004" // JSON that does not parse
	SecondDocument   = "VX1005" // a second YAML document (---) in one file
	YAMLAliasCycle   = "VX1006" // a YAML alias that refers to a node containing it
	YAMLAliasBomb    = "VX1007" // YAML aliases that expand the document too far
	MergeKey         = "VX1008" // a YAML merge key (<<)
	KeyNotString     = "VX1009" // a mapping key that is not a string
	DuplicateKey     = "VX1010" // the same key twice in one mapping
	UnknownKey       = "VX1011" // a key the format does not have
	MissingKey       = "VX1012" // a required key that is absent
	WrongType        = "VX1013" // a value of the wrong YAML type
	IntegerRange     = "VX1014" // an integer outside 64 bits
	InvalidName      = "VX1015" // a flag, attribute, filter, rule or split group name that is not letters, digits and _
	InvalidDate      = "VX1016" // a date that is not YYYY-MM-DD
	Unreadable       = "VX1017" // a file that cannot be read
	NonFiniteNumber  = "VX1018" // a float that is not finite
	UnsupportedValue = "VX1019" // a YAML value no field takes (a tagged or odd scalar)
)

// The definitions: what flags.yaml declares.
const (
	UnsupportedVersion   = "VX2001" // a version this vexil does not read
	InvalidPackage       = "VX2002" // a package that is not a Go package name
	DuplicateFlag        = "VX2003" // two flags of one name
	AliasSetsField       = "VX2004" // an alias that sets what it shares with its flag
	AliasUnknownFlag     = "VX2005" // an alias of no flag
	AliasOfItself        = "VX2006" // a flag that is an alias of itself
	AliasOfAlias         = "VX2007" // an alias of an alias
	UnknownKind          = "VX2008" // a kind that is not one of vexil's
	InvalidDuration      = "VX2009" // a max_staleness that is not a positive duration
	InvalidOnStale       = "VX2010" // an on_stale that is not safe or last
	OnStaleWithoutMax    = "VX2011" // on_stale without max_staleness
	BoolVariants         = "VX2012" // variants on a bool flag
	InvalidVariant       = "VX2013" // a string variant that is not letters, digits and _
	MixedVariants        = "VX2014" // variants of two types
	DuplicateVariant     = "VX2015" // the same variant twice
	TooFewVariants       = "VX2016" // fewer than two variants
	DefaultType          = "VX2017" // a default of another type than the variants
	DefaultNotVariant    = "VX2018" // a default that is not one of the variants
	UnknownAttributeType = "VX2019" // an attribute type vexil does not have
	ValuesNotString      = "VX2020" // values on an attribute that is not a string
	KeyNotStringAttr     = "VX2021" // a targeting key that is not a string attribute
	TwoKeys              = "VX2022" // two targeting keys
	DuplicateValue       = "VX2023" // the same attribute value twice
	FlagWithoutValues    = "VX2024" // a flag with no value to answer
	ObjectShape          = "VX2025" // object variants whose fields differ in name or type, or have none
	ObjectFieldValue     = "VX2026" // an object variant's field that is not a string, number or bool
	UnknownMetricType    = "VX2027" // a metric type that is not sum, count or any
	UnknownMetric        = "VX2028" // a flag's metrics or primary naming no declared metric
	DuplicateMetric      = "VX2029" // a metric listed twice in a flag's metrics
	PrimaryNotListed     = "VX2030" // a primary metric that is not one of the flag's metrics
	ControlNotVariant    = "VX2031" // a control that is not one of the flag's variants
	ExperimentOnly       = "VX2032" // metrics, primary or control on a flag that is not kind: experiment
)

// Rules documents: rules, filters, kills.
const (
	DefinedTwice     = "VX3001" // a flag, filter or rule defined in two merged documents
	EmptyFilter      = "VX3002" // a named filter with no text
	NegativePriority = "VX3003" // a priority below zero
	RuleSetsNothing  = "VX3004" // a rule whose variants are empty
	DefinitionField  = "VX3005" // a flags.yaml-only field on a rules document's flag
	FlagsWithDefs    = "VX3006" // a flags section in a document compiled against definitions
)

// Filter syntax: the text of a filter or a rule's filter.
const (
	FilterTooLong      = "VX4001" // a filter over the size limit
	UnexpectedChar     = "VX4002" // a character the language does not have
	UnterminatedString = "VX4003" // a string without its closing quote
	NumberRange        = "VX4004" // a number out of range
	UnexpectedWord     = "VX4005" // a word that is not a keyword or a reference
	InvalidReference   = "VX4006" // attr:, flag:, filter: or rule: without a valid name
	Unexpected         = "VX4007" // a token where the grammar wants another
	TooDeep            = "VX4008" // expressions nested too deeply
	InvalidOperator    = "VX4009" // an operator or value an operand cannot take
	InvalidSet         = "VX4010" // an empty set, or one of mixed or unusable elements
	InsplitBounds      = "VX4011" // insplit bounds outside 0 <= low <= high <= 100
	InvalidTime        = "VX4012" // a time that is not RFC 3339, or out of range
	TooManyErrors      = "VX4013" // the rest of a filter's errors left out
)

// Compiling: rules checked against the definitions.
const (
	UnknownFlag      = "VX5001" // a reference to a flag that is not defined
	UnknownVariant   = "VX5002" // a value that is not a variant of its flag
	UnknownAttribute = "VX5003" // a reference to an attribute that is not defined
	AttributeType    = "VX5004" // an attribute compared in a way its type does not allow
	FlagType         = "VX5005" // a flag compared with a value of another type
	Cycle            = "VX5006" // filters, flags or rules that refer to themselves
	TooCostly        = "VX5007" // a flag whose evaluation could visit too many nodes
)

// Only ever warnings: the document compiles, but part of it does nothing.
const (
	UnknownFilterRef = "VX6001" // filter:NAME of no filter; the reference is false
	UnknownRuleRef   = "VX6002" // rule:NAME of no rule; the reference is false
	EmptyInsplit     = "VX6003" // an insplit range no one is in
	KillUnknownFlag  = "VX6004" // a kill switch for a flag that is not defined
)

// Generating code: definitions that cannot become a Go or GraphQL API.
const (
	NotNameable     = "VX7001" // a key or value that cannot be named in Go
	NameTaken       = "VX7002" // two things that would take one Go name
	UnwritableText  = "VX7003" // text Go source cannot hold
	GraphQLClash    = "VX7004" // GraphQL names that clash or shadow GraphQL's own
	GraphQLIntRange = "VX7005" // a client int variant outside GraphQL's 32 bits
	NoClientFlags   = "VX7006" // a GraphQL schema asked for with no client flag
	BadOutput       = "VX7007" // an output file name or place that cannot be used
	PackageMismatch = "VX7008" // output into a directory of another package
	Internal        = "VX7009" // a bug in vexil: please report it
)
