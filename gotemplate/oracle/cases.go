package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// CaseFile is one hand-written file under tests/cases: defaults for its cases, then the cases;
// or, instead of cases, a batch of random cases from the fuzz generator.
type CaseFile struct {
	Funcs      string    `json:"funcs"`
	MissingKey string    `json:"missingkey"`
	Cases      []Case    `json:"cases"`
	Fuzz       *FuzzSpec `json:"fuzz"`
}

// Case is one case as written. Exactly one of Template, Templates, EachTemplate gives the text.
// EachData and EachTemplate expand into one resolved case per element, named NAME/NN.
type Case struct {
	Name         string                 `json:"name"`
	Funcs        string                 `json:"funcs"`
	MissingKey   string                 `json:"missingkey"`
	Template     *string                `json:"template"`
	Templates    map[string]string      `json:"templates"`
	Entry        string                 `json:"entry"`
	Data         interface{}            `json:"data"`
	Files        map[string]string      `json:"files"`
	ChartValues  map[string]interface{} `json:"chart_values"`
	Subcharts    map[string]*Subchart   `json:"subcharts"`
	EachData     []interface{}          `json:"each_data"`
	EachTemplate []string               `json:"each_template"`
}

// Subchart is a chart under the case's chart (helm mode): its templates (chart-relative file
// names), the defaults of its values.yaml, and its type (application or library).
type Subchart struct {
	Templates map[string]string      `json:"templates"`
	Values    map[string]interface{} `json:"values"`
	Type      string                 `json:"type"`
}

// Resolved is a case ready to render: every default applied, one template set, one data value.
type Resolved struct {
	Name       string
	Funcs      string
	MissingKey string
	Templates  map[string]string
	Entry      string
	Data       interface{}
	Files      map[string]string
	// Helm mode only: the chart's own values.yaml and its subcharts.
	ChartValues map[string]interface{}
	Subcharts   map[string]*Subchart
}

// defaultEntry is the name of a single template: a file of the in-memory chart in helm mode.
func defaultEntry(funcs string) string {
	if funcs == FuncsHelm {
		return "templates/main.yaml"
	}
	return "main"
}

// loadCaseFile reads a case file the way Helm reads a values file (sigs.k8s.io/yaml), so the data
// of a case holds exactly what a chart's values would: numbers as float64, keys as strings.
func loadCaseFile(path string) ([]*Resolved, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var file CaseFile
	if err := yaml.UnmarshalStrict(raw, &file); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if file.Fuzz != nil {
		if len(file.Cases) > 0 {
			return nil, fmt.Errorf("%s: a case file holds cases or fuzz, not both", path)
		}
		if err := file.Fuzz.check(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return fuzzCases(*file.Fuzz, 0), nil
	}
	var out []*Resolved
	seen := map[string]bool{}
	for i := range file.Cases {
		resolved, err := resolve(&file, &file.Cases[i])
		if err != nil {
			return nil, fmt.Errorf("%s: case %d (%q): %w", path, i+1, file.Cases[i].Name, err)
		}
		for _, r := range resolved {
			if seen[r.Name] {
				return nil, fmt.Errorf("%s: duplicate case name %q", path, r.Name)
			}
			seen[r.Name] = true
			out = append(out, r)
		}
	}
	return out, nil
}

func resolve(file *CaseFile, c *Case) ([]*Resolved, error) {
	if c.Name == "" {
		return nil, fmt.Errorf("a case needs a name")
	}
	base := Resolved{
		Name:        c.Name,
		Funcs:       firstNonEmpty(c.Funcs, file.Funcs, FuncsGo),
		MissingKey:  firstNonEmpty(c.MissingKey, file.MissingKey, "default"),
		Entry:       c.Entry,
		Data:        c.Data,
		Files:       c.Files,
		ChartValues: c.ChartValues,
		Subcharts:   c.Subcharts,
	}
	if err := checkOptions(&base); err != nil {
		return nil, err
	}
	if base.Entry == "" {
		base.Entry = defaultEntry(base.Funcs)
	}
	sources := 0
	for _, given := range []bool{c.Template != nil, c.Templates != nil, c.EachTemplate != nil} {
		if given {
			sources++
		}
	}
	if sources != 1 {
		return nil, fmt.Errorf("give exactly one of template, templates, each_template")
	}
	if c.EachData != nil && c.EachTemplate != nil {
		return nil, fmt.Errorf("each_data and each_template cannot be combined")
	}
	if c.EachData != nil && c.Data != nil {
		return nil, fmt.Errorf("each_data replaces data; give one of them")
	}
	switch {
	case c.Template != nil:
		base.Templates = map[string]string{base.Entry: *c.Template}
	case c.Templates != nil:
		base.Templates = c.Templates
		// A go or sprig entry may be a name defined inside a template; a helm entry is a file.
		if base.Funcs == FuncsHelm && !hasHelmFile(&base, base.Entry) {
			return nil, fmt.Errorf("templates has no entry %q; name it with entry", base.Entry)
		}
	}
	var out []*Resolved
	switch {
	case c.EachTemplate != nil:
		for i, text := range c.EachTemplate {
			r := base
			r.Name = indexedName(c.Name, i, len(c.EachTemplate))
			r.Templates = map[string]string{base.Entry: text}
			out = append(out, &r)
		}
	case c.EachData != nil:
		for i, data := range c.EachData {
			r := base
			r.Name = indexedName(c.Name, i, len(c.EachData))
			r.Data = data
			out = append(out, &r)
		}
	default:
		out = append(out, &base)
	}
	return out, nil
}

// hasHelmFile tells whether a chart-relative file name is a template of the case's chart or, as
// charts/NAME/templates/..., of one of its subcharts.
func hasHelmFile(r *Resolved, file string) bool {
	if _, ok := r.Templates[file]; ok {
		return true
	}
	for name, sub := range r.Subcharts {
		if _, ok := sub.Templates[strings.TrimPrefix(file, "charts/"+name+"/")]; ok && strings.HasPrefix(file, "charts/"+name+"/") {
			return true
		}
	}
	return false
}

func checkOptions(r *Resolved) error {
	switch r.Funcs {
	case FuncsGo, FuncsSprig, FuncsHelm:
	default:
		return fmt.Errorf("funcs %q is not one of go, sprig, helm", r.Funcs)
	}
	switch r.MissingKey {
	case "default", "invalid", "zero", "error":
	default:
		return fmt.Errorf("missingkey %q is not one of default, invalid, zero, error", r.MissingKey)
	}
	if r.Funcs == FuncsHelm {
		// Helm sets zero unless its engine is strict (lint --strict), which sets error.
		switch r.MissingKey {
		case "default", "zero":
			r.MissingKey = "zero"
		case "error":
		default:
			return fmt.Errorf("helm mode knows only missingkey zero (helm template) and error (strict)")
		}
	}
	if r.Funcs != FuncsHelm && (len(r.Files) > 0 || r.ChartValues != nil || r.Subcharts != nil) {
		return fmt.Errorf("files, chart_values and subcharts describe a chart: only for funcs helm")
	}
	for name, sub := range r.Subcharts {
		switch sub.Type {
		case "", "application", "library":
		default:
			return fmt.Errorf("subchart %s: type %q is not application or library", name, sub.Type)
		}
	}
	return nil
}

// indexedName numbers expanded cases with enough digits that they sort in order.
func indexedName(name string, i, n int) string {
	width := len(fmt.Sprint(n))
	return fmt.Sprintf("%s/%0*d", name, width, i+1)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// caseFiles lists tests/cases/*.yaml in name order.
func caseFiles(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		return nil, fmt.Errorf("no *.yaml case files in %s", dir)
	}
	return paths, nil
}

// vectorFileName maps cases/NAME.yaml to NAME.jsonl.
func vectorFileName(casePath string) string {
	return strings.TrimSuffix(filepath.Base(casePath), ".yaml") + ".jsonl"
}
