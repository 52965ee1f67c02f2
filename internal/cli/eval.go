package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vexilhq/vexil/internal/api"
	"github.com/vexilhq/vexil/internal/diagcode"
	vexilrt "github.com/vexilhq/vexil/runtime"
)

func runEval(ctx context.Context, args []string, stdio Stdio) int {
	fs := newFlagSet("eval", stdio.Err)
	var configs, flagNames stringList
	fs.Var(&configs, "config", "rules document, YAML or JSON (repeat to merge several)")
	defsFile := fs.String("flags", "", `flags.yaml with the definitions (default ./flags.yaml when it exists; --flags="" to let the rules document hold the flags)`)
	fs.Var(&flagNames, "flag", "flag to evaluate (repeatable; default: every flag and alias)")
	nowText := fs.String("now", "", "evaluation time, RFC 3339 (default: the clock)")
	explain := fs.Bool("explain", false, "say for every rule tried why it did or did not match")
	attrsText := fs.String("attrs", "", "the target's attributes as a JSON object")
	jsonl := fs.Bool("jsonl", false, "read one attributes object per line of standard input")
	format := fs.String("format", "json", "json (one object per target) or text (one line per flag, explain traces indented)")
	if done, code := parseFlags(fs, args); done {
		return code
	}
	if *format != "json" && *format != "text" {
		fmt.Fprintf(stdio.Err, "vexil eval: --format %q: want json or text\n", *format)
		return exitBadInput
	}
	if !flagGiven(fs, "flags") {
		// Like serve, check and generate: the definitions beside you are
		// the ones meant; without them every rule would be "unknown flag".
		if _, err := os.Stat("flags.yaml"); err == nil {
			*defsFile = "flags.yaml"
		}
	}
	if len(configs) == 0 {
		fmt.Fprintln(stdio.Err, "vexil eval: --config is required")
		return exitBadInput
	}
	if (*attrsText == "") == !*jsonl {
		fmt.Fprintln(stdio.Err, "vexil eval: give exactly one of --attrs JSON and --jsonl")
		return exitBadInput
	}
	var now time.Time
	if *nowText != "" {
		t, err := time.Parse(time.RFC3339Nano, *nowText)
		if err != nil {
			fmt.Fprintf(stdio.Err, "vexil eval: --now: %v\n", err)
			return exitBadInput
		}
		now = t
	}
	cfg, diags := loadConfig(configs, *defsFile)
	for _, d := range diags {
		fmt.Fprintln(stdio.Err, d)
	}
	if cfg == nil {
		return exitBadInput
	}
	names := []string(flagNames)
	if len(names) == 0 {
		names = cfg.FlagNames()
	}
	for _, n := range names {
		if _, ok := cfg.FlagID(n); !ok {
			fmt.Fprintf(stdio.Err, "vexil eval: --flag: unknown flag %q\n", n)
			return exitBadInput
		}
	}
	ev := evaluator{cfg: cfg, names: names, now: now, explain: *explain, text: *format == "text"}
	out := bufio.NewWriter(stdio.Out)
	defer out.Flush()
	if !*jsonl {
		attrs, err := decodeAttrs([]byte(*attrsText))
		if err != nil {
			fmt.Fprintf(stdio.Err, "--attrs:%v\n", err)
			return exitBadInput
		}
		line, err := ev.evaluate(attrs)
		if err != nil {
			fmt.Fprintf(stdio.Err, "--attrs: %v\n", err)
			return exitBadInput
		}
		out.Write(line)
		out.WriteByte('\n')
		return exitOK
	}
	return ev.lines(ctx, stdio.In, out)
}

// loadConfig reads, merges and compiles rules documents, strictly against
// definitions when given.
func loadConfig(files []string, defsFile string) (*vexilrt.Config, vexilrt.Diagnostics) {
	var diags vexilrt.Diagnostics
	var opts vexilrt.CompileOptions
	if defsFile != "" {
		data, err := os.ReadFile(defsFile)
		if err != nil {
			return nil, vexilrt.Diagnostics{{Code: diagcode.Unreadable, Pos: vexilrt.Position{File: defsFile}, Message: readError(err)}}
		}
		defs, ds := vexilrt.ParseDefinitions(defsFile, data)
		diags = append(diags, ds...)
		opts.Definitions = defs
	}
	var docs []*vexilrt.RulesDoc
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			diags = append(diags, vexilrt.Diagnostic{Code: diagcode.Unreadable, Pos: vexilrt.Position{File: f}, Message: readError(err)})
			continue
		}
		doc, ds := vexilrt.ParseRules(f, data)
		diags = append(diags, ds...)
		docs = append(docs, doc)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	doc, ds := vexilrt.MergeRules(docs...)
	diags = append(diags, ds...)
	if diags.HasErrors() {
		return nil, diags
	}
	cfg, ds := vexilrt.Compile(doc, opts)
	return cfg, append(diags, ds...)
}

func readError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

type evaluator struct {
	cfg     *vexilrt.Config
	names   []string
	now     time.Time
	explain bool
	text    bool // the readable form rather than JSON
}

// marshalUnescaped is v as JSON, without escaping HTML: explain details
// say <missing>, not \u003cmissing\u003e.
func marshalUnescaped(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// evaluate answers every requested flag as one JSON object, keys in the
// order the flags were asked for (or defined), or in the text form.
func (ev *evaluator) evaluate(attrs map[string]any) ([]byte, error) {
	if _, err := ev.cfg.SlotsFromMap(attrs, nil); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if !ev.text {
		b.WriteByte('{')
	}
	for i, name := range ev.names {
		var e vexilrt.Evaluation
		var ex *vexilrt.Explanation
		if ev.explain {
			e, ex = ev.cfg.Explain(name, attrs, ev.now)
		} else {
			e = ev.cfg.Evaluate(name, attrs, ev.now)
		}
		if e.Err() != nil {
			return nil, e.Err()
		}
		if ev.text {
			writeText(&b, name, e, ex)
			continue
		}
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(name)
		// Each flag's answer is the one POST .../evaluate gives it.
		res := api.EvalResult{Value: e.Any(), Variant: e.Variant(), Reason: e.Reason().String(), Rule: e.Rule()}
		if ex != nil {
			x, err := marshalUnescaped(ex)
			if err != nil {
				return nil, err
			}
			res.Explain = x
		}
		val, err := marshalUnescaped(res)
		if err != nil {
			return nil, err
		}
		b.Write(key)
		b.WriteByte(':')
		b.Write(val)
	}
	if !ev.text {
		b.WriteByte('}')
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// lines evaluates one attributes object per input line; a bad line gets an
// error object and the batch goes on.
func (ev *evaluator) lines(ctx context.Context, in io.Reader, out *bufio.Writer) int {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	code := exitOK
	for n := 1; sc.Scan(); n++ {
		if ctx.Err() != nil {
			return exitBadInput
		}
		line, err := ev.line(sc.Bytes())
		if err != nil {
			line, _ = json.Marshal(map[string]string{"error": fmt.Sprintf("line %d: %v", n, err)})
			code = exitFindings
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		line, _ := json.Marshal(map[string]string{"error": fmt.Sprintf("reading input: %v", err)})
		out.Write(line)
		out.WriteByte('\n')
		return exitFindings
	}
	return code
}

func (ev *evaluator) line(data []byte) ([]byte, error) {
	attrs, err := decodeAttrs(data)
	if err != nil {
		return nil, err
	}
	return ev.evaluate(attrs)
}
