// Command oracle renders Go templates the way Go's text/template, Sprig v3 and Helm's engine do,
// so the Rust engine can be checked against the real thing.
//
//	oracle eval [-funcs go|sprig|helm] [-missingkey M] [-data JSON] [-entry NAME] TEMPLATE
//	    renders one template text and prints its output, or its error on stderr (exit 1)
//	oracle run < CASE.json
//	    renders one case given as a JSON object (the fields of a vector, without the result) and
//	    prints its vector line; for harnesses that drive the oracle
//	oracle vectors [-check] CASES_DIR VECTORS_DIR
//	    renders every CASES_DIR/*.yaml into VECTORS_DIR/*.jsonl; -check only compares and fails
//	    when a file is stale
//	oracle fuzz [-seed N] [-count N] [-skip N] [-funcs go|sprig]
//	    prints random cases from a small template grammar as vector lines, each with Go's result
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"
	// Zone names in dateInZone resolve the same on a machine without /usr/share/zoneinfo.
	_ "time/tzdata"
)

func main() {
	// Dates print in the local zone; vectors are made in UTC so they do not depend on the machine.
	time.Local = time.UTC
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "eval":
		err = cmdEval(os.Args[2:])
	case "run":
		err = cmdRun(os.Stdin, os.Stdout)
	case "vectors":
		err = cmdVectors(os.Args[2:])
	case "fuzz":
		err = cmdFuzz(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "oracle:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: oracle eval|run|vectors|fuzz ... (see the package comment in main.go)")
	os.Exit(2)
}

func cmdEval(args []string) error {
	fs := flag.NewFlagSet("eval", flag.ExitOnError)
	funcs := fs.String("funcs", FuncsSprig, "function set: go, sprig or helm")
	missingKey := fs.String("missingkey", "default", "missingkey option: default, zero or error")
	dataJSON := fs.String("data", "null", "the data (.Values in helm mode) as JSON")
	entry := fs.String("entry", "", "name of the template (default main, or templates/main.yaml in helm mode)")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("eval takes one template text")
	}
	var data interface{}
	if err := json.Unmarshal([]byte(*dataJSON), &data); err != nil {
		return fmt.Errorf("-data: %w", err)
	}
	c := &Resolved{Name: "eval", Funcs: *funcs, MissingKey: *missingKey, Data: data, Entry: *entry}
	if err := checkOptions(c); err != nil {
		return err
	}
	if c.Entry == "" {
		c.Entry = defaultEntry(c.Funcs)
	}
	c.Templates = map[string]string{c.Entry: fs.Arg(0)}
	out := render(c)
	if out.Err != nil {
		return out.Err
	}
	_, err := io.WriteString(os.Stdout, out.Output)
	return err
}

// cmdRun reads one case as JSON (name, funcs, missingkey, templates, entry, data, files).
func cmdRun(in io.Reader, out io.Writer) error {
	var c struct {
		Name       string            `json:"name"`
		Funcs      string            `json:"funcs"`
		MissingKey string            `json:"missingkey"`
		Templates  map[string]string `json:"templates"`
		Entry      string            `json:"entry"`
		Data       interface{}       `json:"data"`
		Files      map[string]string `json:"files"`
	}
	dec := json.NewDecoder(io.LimitReader(in, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("reading the case: %w", err)
	}
	r := &Resolved{
		Name: c.Name, Funcs: firstNonEmpty(c.Funcs, FuncsGo), MissingKey: firstNonEmpty(c.MissingKey, "default"),
		Templates: c.Templates, Entry: c.Entry, Data: c.Data, Files: c.Files,
	}
	if err := checkOptions(r); err != nil {
		return err
	}
	if r.Entry == "" {
		r.Entry = defaultEntry(r.Funcs)
	}
	v, err := vectorOf(r)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := encodeVector(&buf, v); err != nil {
		return err
	}
	_, err = out.Write(buf.Bytes())
	return err
}

func cmdVectors(args []string) error {
	fs := flag.NewFlagSet("vectors", flag.ExitOnError)
	check := fs.Bool("check", false, "compare instead of writing; fail when a vector file is stale")
	_ = fs.Parse(args)
	if fs.NArg() != 2 {
		return fmt.Errorf("vectors takes CASES_DIR VECTORS_DIR")
	}
	// Helm logs coalescing warnings (a table replaced by a scalar, ...) through the standard
	// logger; they are not part of any result, and would bury the summary.
	log.SetOutput(io.Discard)
	stale, err := writeVectors(fs.Arg(0), fs.Arg(1), *check)
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		for _, path := range stale {
			fmt.Fprintln(os.Stderr, "stale:", path)
		}
		return fmt.Errorf("%d vector file(s) differ from what the cases produce: run gotemplate/oracle/generate", len(stale))
	}
	return nil
}
