package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"
)

// Vector is one line of a tests/vectors/*.jsonl file: a resolved case and what Go produced.
// Exactly one of Output, OutputBase64 (output that is not valid UTF-8) and Error is set.
type Vector struct {
	Name         string            `json:"name"`
	Funcs        string            `json:"funcs"`
	MissingKey   string            `json:"missingkey"`
	Templates    map[string]string `json:"templates"`
	Entry        string            `json:"entry"`
	Data         interface{}       `json:"data"`
	Helm         *HelmContext      `json:"helm,omitempty"`
	Output       *string           `json:"output,omitempty"`
	OutputBase64 *string           `json:"output_base64,omitempty"`
	Error        *string           `json:"error,omitempty"`
}

// HelmContext is the chart and release around a helm-mode case. Templates are files of the chart
// (templates/NAME); Helm names them CHART/templates/NAME in errors and in .Template.Name. Values
// are the case's data, given to the engine as they are.
type HelmContext struct {
	Chart       HelmChart         `json:"chart"`
	Release     HelmRelease       `json:"release"`
	KubeVersion string            `json:"kube_version"`
	Files       map[string]string `json:"files"`
	// The chart's values.yaml, which Helm coalesces with the case's data into .Values.
	Values map[string]interface{} `json:"values"`
	// Charts under charts/, named; their values are the data's key of the same name.
	Subcharts map[string]*Subchart `json:"subcharts"`
}

type HelmChart struct {
	APIVersion string `json:"apiVersion"`
	Name       string `json:"name"`
	Version    string `json:"version"`
	AppVersion string `json:"appVersion"`
	Type       string `json:"type"`
}

type HelmRelease struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Revision  int    `json:"revision"`
	IsInstall bool   `json:"isInstall"`
	IsUpgrade bool   `json:"isUpgrade"`
	Service   string `json:"service"`
}

func helmContext(c *Resolved) *HelmContext {
	files, values, subcharts := c.Files, c.ChartValues, c.Subcharts
	if files == nil {
		files = map[string]string{}
	}
	if values == nil {
		values = map[string]interface{}{}
	}
	if subcharts == nil {
		subcharts = map[string]*Subchart{}
	}
	return &HelmContext{
		Chart: HelmChart{
			APIVersion: "v2", Name: helmChartName, Version: helmChartVersion,
			AppVersion: helmAppVersion, Type: "application",
		},
		Release: HelmRelease{
			Name: helmReleaseName, Namespace: helmNamespace, Revision: 1,
			IsInstall: true, IsUpgrade: false, Service: helmReleaseService,
		},
		KubeVersion: helmKubeVersion,
		Files:       files,
		Values:      values,
		Subcharts:   subcharts,
	}
}

// independentCopy copies everything of a case that rendering may change (set, unset and merge
// change maps in place; Helm coalesces chart values in place), through JSON so numbers stay
// float64 as a values file gives them.
func independentCopy(c *Resolved) (*Resolved, error) {
	mutable := struct {
		Data        interface{}
		ChartValues map[string]interface{}
		Subcharts   map[string]*Subchart
	}{c.Data, c.ChartValues, c.Subcharts}
	raw, err := json.Marshal(mutable)
	if err != nil {
		return nil, fmt.Errorf("case %q: data: %w", c.Name, err)
	}
	if err := json.Unmarshal(raw, &mutable); err != nil {
		return nil, fmt.Errorf("case %q: data: %w", c.Name, err)
	}
	out := *c
	out.Data, out.ChartValues, out.Subcharts = mutable.Data, mutable.ChartValues, mutable.Subcharts
	return &out, nil
}

// vectorOf renders a case and records the result. The vector keeps the inputs as they were
// before rendering; rendering gets its own copy, since cases expanded from one entry share data.
func vectorOf(original *Resolved) (*Vector, error) {
	c, err := independentCopy(original)
	if err != nil {
		return nil, err
	}
	fresh, err := independentCopy(original)
	if err != nil {
		return nil, err
	}
	v := &Vector{
		Name:       c.Name,
		Funcs:      c.Funcs,
		MissingKey: c.MissingKey,
		Templates:  c.Templates,
		Entry:      c.Entry,
		Data:       c.Data,
	}
	if c.Funcs == FuncsHelm {
		v.Helm = helmContext(c)
	}
	out := render(fresh)
	switch {
	case out.Err == errTimeout:
		return nil, fmt.Errorf("case %q: %w", c.Name, out.Err)
	case out.Err != nil:
		text := out.Err.Error()
		if !utf8.ValidString(text) {
			return nil, fmt.Errorf("case %q: its error text is not valid UTF-8: %q", c.Name, text)
		}
		v.Error = &text
	case utf8.ValidString(out.Output):
		v.Output = &out.Output
	default:
		encoded := base64.StdEncoding.EncodeToString([]byte(out.Output))
		v.OutputBase64 = &encoded
	}
	return v, nil
}

// encodeVector writes one JSON line; HTML characters stay as they are so the files read well.
func encodeVector(buf *bytes.Buffer, v *Vector) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// vectorsFor renders every case of one case file into the bytes of its vector file.
func vectorsFor(casePath string) ([]byte, int, error) {
	cases, err := loadCaseFile(casePath)
	if err != nil {
		return nil, 0, err
	}
	var buf bytes.Buffer
	for _, c := range cases {
		v, err := vectorOf(c)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", casePath, err)
		}
		if err := encodeVector(&buf, v); err != nil {
			return nil, 0, fmt.Errorf("%s: case %q: %w", casePath, c.Name, err)
		}
	}
	return buf.Bytes(), len(cases), nil
}

// writeVectors regenerates (or, with check, compares) every vector file. It returns the names of
// stale files in check mode.
func writeVectors(casesDir, outDir string, check bool) ([]string, error) {
	paths, err := caseFiles(casesDir)
	if err != nil {
		return nil, err
	}
	var stale []string
	wanted := map[string]bool{}
	for _, path := range paths {
		data, count, err := vectorsFor(path)
		if err != nil {
			return nil, err
		}
		name := vectorFileName(path)
		wanted[name] = true
		target := filepath.Join(outDir, name)
		if check {
			current, err := os.ReadFile(target)
			if err != nil || !bytes.Equal(current, data) {
				stale = append(stale, target)
			}
			continue
		}
		if err := os.MkdirAll(outDir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "%-28s %5d cases\n", name, count)
	}
	existing, _ := filepath.Glob(filepath.Join(outDir, "*.jsonl"))
	for _, path := range existing {
		if !wanted[filepath.Base(path)] {
			if check {
				stale = append(stale, path+" (no case file)")
			} else if err := os.Remove(path); err != nil {
				return nil, err
			}
		}
	}
	return stale, nil
}
