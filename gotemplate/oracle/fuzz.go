package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
)

// The differential fuzz generator: random templates from a small grammar of the template
// language, with random data, each rendered by Go. A harness feeds the same cases to the Rust
// engine and compares. The same seed always gives the same cases, so a difference found once
// can be reproduced with `oracle fuzz -seed N -count 1 -skip K`.

func cmdFuzz(args []string) error {
	fs := flag.NewFlagSet("fuzz", flag.ExitOnError)
	seed := fs.Int64("seed", 1, "seed of the random generator")
	count := fs.Int("count", 100, "how many cases to print")
	skip := fs.Int("skip", 0, "cases to generate and drop first (to reach one case of a run)")
	funcs := fs.String("funcs", FuncsGo, "function set: go or sprig")
	_ = fs.Parse(args)
	if err := (FuzzSpec{Seed: *seed, Count: *count, Funcs: *funcs}).check(); err != nil {
		return err
	}
	if *skip < 0 {
		return fmt.Errorf("-skip must not be negative")
	}
	var buf bytes.Buffer
	for _, c := range fuzzCases(FuzzSpec{Seed: *seed, Count: *count, Funcs: *funcs}, *skip) {
		v, err := vectorOf(c)
		if err != nil {
			return err
		}
		if err := encodeVector(&buf, v); err != nil {
			return err
		}
	}
	_, err := os.Stdout.Write(buf.Bytes())
	return err
}

// FuzzSpec names one reproducible batch of random cases; a case file holding `fuzz:` instead of
// `cases:` keeps such a batch as vectors.
type FuzzSpec struct {
	Seed  int64  `json:"seed"`
	Count int    `json:"count"`
	Funcs string `json:"funcs"`
}

func (spec FuzzSpec) check() error {
	if spec.Funcs != FuncsGo && spec.Funcs != FuncsSprig {
		return fmt.Errorf("fuzz generates go or sprig cases, not %q", spec.Funcs)
	}
	if spec.Count < 0 || spec.Count > 1_000_000 {
		return fmt.Errorf("fuzz count must be between 0 and 1000000")
	}
	return nil
}

// fuzzCases draws skip+count cases and returns the last count of them.
func fuzzCases(spec FuzzSpec, skip int) []*Resolved {
	g := &generator{rng: newSeededRand(spec.Seed), funcs: spec.Funcs}
	var cases []*Resolved
	for i := 0; i < skip+spec.Count; i++ {
		c := g.newCase(fmt.Sprintf("fuzz-%d-%d", spec.Seed, i))
		if i >= skip {
			cases = append(cases, c)
		}
	}
	return cases
}

func newSeededRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }

// generator draws templates and data. Depth limits keep every case small and quick to render.
type generator struct {
	rng   *rand.Rand
	funcs string
	vars  []string // variables in scope while generating one template
}

const (
	maxNodes     = 4
	maxDepth     = 3
	maxDataDepth = 3
)

// The keys data maps use, so field chains in templates often hit and sometimes miss.
var dataKeys = []string{"a", "b", "name", "list", "map", "n", "empty", "nil", "Flag"}

func (g *generator) newCase(name string) *Resolved {
	// A define body has its own variables, so it is drawn before main and the scope is reset.
	g.vars = nil
	define := ""
	if g.rng.Intn(4) == 0 {
		define = `{{ define "sub" }}` + g.nodes(1) + `{{ end }}`
	}
	g.vars = nil
	main := g.nodes(0)
	if define != "" {
		main = define + main + `{{ template "sub" ` + g.operand(1) + ` }}`
	}
	templates := map[string]string{"main": main}
	missingKey := []string{"default", "default", "zero", "error"}[g.rng.Intn(4)]
	return &Resolved{
		Name: name, Funcs: g.funcs, MissingKey: missingKey,
		Templates: templates, Entry: "main", Data: g.data(0),
	}
}

func (g *generator) pick(options ...string) string { return options[g.rng.Intn(len(options))] }

// nodes is a sequence of text and actions.
func (g *generator) nodes(depth int) string {
	var b strings.Builder
	for i, n := 0, 1+g.rng.Intn(maxNodes); i < n; i++ {
		b.WriteString(g.node(depth))
	}
	return b.String()
}

func (g *generator) node(depth int) string {
	choice := g.rng.Intn(10)
	if depth >= maxDepth && choice >= 6 {
		choice = g.rng.Intn(6)
	}
	switch choice {
	case 0, 1:
		return g.pick("x", " ", "\n", "a b", "<&>", "é", "  \n  ", "} ")
	case 2, 3, 4:
		return "{{" + g.trimLeft() + g.pipeline(depth) + g.trimRight() + "}}"
	case 5:
		v := fmt.Sprintf("$v%d", len(g.vars))
		text := "{{ " + v + " := " + g.pipeline(depth) + " }}"
		g.vars = append(g.vars, v)
		return text
	case 6:
		return "{{ if " + g.pipeline(depth) + " }}" + g.scoped(depth) + g.elseBranch(depth) + "{{ end }}"
	case 7:
		return "{{ with " + g.pipeline(depth) + " }}" + g.scoped(depth) + g.elseBranch(depth) + "{{ end }}"
	case 8:
		head := g.pipeline(depth)
		switch g.rng.Intn(3) {
		case 0:
			head = "$k, $e := " + head
		case 1:
			head = "$e := " + head
		}
		body := g.scoped(depth)
		if g.rng.Intn(4) == 0 {
			body += "{{ " + g.pick("break", "continue") + " }}"
		}
		return "{{ range " + head + " }}" + body + g.elseBranch(depth) + "{{ end }}"
	default:
		return "{{/* " + g.pick("c", "comment", "") + " */}}"
	}
}

func (g *generator) trimLeft() string  { return g.pick(" ", " ", "- ", "") }
func (g *generator) trimRight() string { return g.pick(" ", " ", " -", "") }

// scoped generates a body whose variables end with it.
func (g *generator) scoped(depth int) string {
	saved := len(g.vars)
	body := g.nodes(depth + 1)
	g.vars = g.vars[:saved]
	return body
}

func (g *generator) elseBranch(depth int) string {
	if g.rng.Intn(2) == 0 {
		return ""
	}
	return "{{ else }}" + g.scoped(depth)
}

// pipeline is a command, sometimes piped into further commands.
func (g *generator) pipeline(depth int) string {
	p := g.command(depth)
	for g.rng.Intn(4) == 0 {
		p += " | " + g.function(depth, true)
	}
	return p
}

func (g *generator) command(depth int) string {
	if g.rng.Intn(2) == 0 {
		return g.operand(depth)
	}
	return g.function(depth, false)
}

// arity is how many arguments a function takes: at least min, at most max.
type arity struct{ min, max int }

var goFunctions = map[string]arity{
	"print": {0, 3}, "println": {0, 3}, "printf": {1, 3}, "len": {1, 1}, "index": {1, 3},
	"slice": {1, 3}, "eq": {2, 3}, "ne": {2, 2}, "lt": {2, 2}, "le": {2, 2}, "gt": {2, 2},
	"ge": {2, 2}, "and": {1, 3}, "or": {1, 3}, "not": {1, 1}, "html": {1, 2}, "js": {1, 2},
	"urlquery": {1, 2},
}

// Sprig functions whose results do not depend on chance or the clock (keys returns Go's random
// map order, so it is left out).
var sprigFunctions = map[string]arity{
	"default": {2, 2}, "empty": {1, 1}, "quote": {1, 2}, "upper": {1, 1}, "toString": {1, 1},
	"int": {1, 1}, "float64": {1, 1}, "add": {1, 3}, "list": {0, 3}, "dict": {0, 2},
	"join": {2, 2}, "first": {1, 1}, "trim": {1, 1}, "repeat": {2, 2},
	"ternary": {3, 3}, "toJson": {1, 1}, "hasKey": {2, 2}, "coalesce": {1, 3}, "typeOf": {1, 1},
	"max": {1, 3}, "until": {1, 1}, "indent": {2, 2}, "splitList": {2, 2}, "sortAlpha": {1, 1},
}

// functionNames is sorted so a seed draws the same names on every run.
func (g *generator) functionNames() []string {
	names := sortedArityKeys(goFunctions)
	if g.funcs == FuncsSprig {
		names = append(names, sortedArityKeys(sprigFunctions)...)
	}
	return names
}

func sortedArityKeys(m map[string]arity) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// function is a call; piped means the last argument comes from the pipeline. Most calls get an
// argument count the function accepts, a few get one it does not.
func (g *generator) function(depth int, piped bool) string {
	names := g.functionNames()
	name := names[g.rng.Intn(len(names))]
	want, ok := goFunctions[name]
	if !ok {
		want = sprigFunctions[name]
	}
	n := want.min + g.rng.Intn(want.max-want.min+1)
	if g.rng.Intn(10) == 0 {
		n = g.rng.Intn(4)
	}
	if piped {
		n--
	}
	if name == "printf" {
		return "printf " + strconv.Quote(g.pick("%v", "%d", "%s", "%q", "%5.2f", "%x", "%T", "%v-%v", "%%")) + g.arguments(depth, n-1)
	}
	return name + g.arguments(depth, n)
}

func (g *generator) arguments(depth, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(" " + g.operand(depth))
	}
	return b.String()
}

func (g *generator) operand(depth int) string {
	switch g.rng.Intn(9) {
	case 0:
		return g.pick("0", "1", "-2", "3", "42", "0x10", "1_000", "'a'")
	case 1:
		return g.pick("1.5", "0.0", "-0.5", "1e6", "2.0", "1e21")
	case 2:
		return strconv.Quote(g.pick("", "a", "abc", "a,b", "%d", "<b>", " x ", "日本"))
	case 3:
		return g.pick("true", "false", "true", "false", "nil")
	case 4, 5:
		return g.fieldChain()
	case 6:
		if len(g.vars) > 0 {
			return g.vars[g.rng.Intn(len(g.vars))]
		}
		return g.pick(".", "$")
	default:
		if depth >= maxDepth {
			return g.fieldChain()
		}
		return "(" + g.pipeline(depth+1) + ")"
	}
}

func (g *generator) fieldChain() string {
	root := g.pick(".", "$")
	chain := ""
	for i, n := 0, g.rng.Intn(3); i < n; i++ {
		chain += "." + dataKeys[g.rng.Intn(len(dataKeys))]
	}
	if chain == "" {
		return root
	}
	if root == "$" {
		return "$" + chain
	}
	return chain
}

// data is a random value shaped like decoded Helm values: float64, string, bool, nil, lists
// and string-keyed maps.
func (g *generator) data(depth int) interface{} {
	choice := g.rng.Intn(8)
	if depth == 0 {
		choice = 7
	} else if depth >= maxDataDepth {
		choice = g.rng.Intn(5)
	}
	switch choice {
	case 0:
		return []float64{0, 1, -1, 1.5, 3, 1e6, 1e21, 0.1}[g.rng.Intn(8)]
	case 1:
		return []string{"", "a", "text", "1", "true", "<x>", "a b"}[g.rng.Intn(7)]
	case 2:
		return g.rng.Intn(2) == 0
	case 3:
		return nil
	case 4, 5:
		list := []interface{}{}
		for i, n := 0, g.rng.Intn(4); i < n; i++ {
			list = append(list, g.data(depth+1))
		}
		return list
	default:
		m := map[string]interface{}{}
		for i, n := 0, g.rng.Intn(5); i < n; i++ {
			m[dataKeys[g.rng.Intn(len(dataKeys))]] = g.data(depth + 1)
		}
		if depth == 0 {
			for _, key := range []string{"a", "list", "map"} {
				if _, ok := m[key]; !ok && g.rng.Intn(2) == 0 {
					m[key] = g.data(depth + 1)
				}
			}
		}
		return m
	}
}
