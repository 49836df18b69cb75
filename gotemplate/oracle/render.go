package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// Function sets a case can be rendered with.
const (
	FuncsGo    = "go"    // text/template's builtins only
	FuncsSprig = "sprig" // plus Sprig's text functions, less the two Helm removes
	FuncsHelm  = "helm"  // the whole chart through Helm's own engine
)

// The fixed chart and release a helm-mode case is rendered in. The vectors repeat them so a
// consumer can build the same context without reading this file.
const (
	helmChartName      = "oracle"
	helmChartVersion   = "0.1.0"
	helmAppVersion     = "1.0.0"
	helmReleaseName    = "release-name"
	helmNamespace      = "default"
	helmKubeVersion    = "v1.36.0"
	helmKubeMajor      = "1"
	helmKubeMinor      = "36"
	helmReleaseService = "Helm"
)

// renderTimeout bounds one case; a case that needs longer is a mistake in the case file.
const renderTimeout = 20 * time.Second

// maxOutputBytes bounds what one case may print.
const maxOutputBytes = 1 << 20

// Outcome is what rendering one case produced: either the output text or the error text.
type Outcome struct {
	Output string
	Err    error
}

// render runs one resolved case with a time limit. A Go panic that escapes text/template (it
// recovers only panics inside called functions) is reported as an error, as Helm's engine does.
func render(c *Resolved) Outcome {
	done := make(chan Outcome, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- Outcome{Err: fmt.Errorf("panic: %v", r)}
			}
		}()
		var out Outcome
		if c.Funcs == FuncsHelm {
			out = renderHelm(c)
		} else {
			out = renderPlain(c)
		}
		done <- out
	}()
	select {
	case out := <-done:
		if out.Err == nil && len(out.Output) > maxOutputBytes {
			return Outcome{Err: fmt.Errorf("oracle: output of %d bytes exceeds the %d byte limit", len(out.Output), maxOutputBytes)}
		}
		return out
	case <-time.After(renderTimeout):
		return Outcome{Err: errTimeout}
	}
}

var errTimeout = errors.New("oracle: rendering did not finish in time")

// funcMapFor returns the functions of a go or sprig case.
func funcMapFor(funcs string) template.FuncMap {
	if funcs != FuncsSprig {
		return nil
	}
	fm := sprig.TxtFuncMap()
	// Helm removes these two so charts cannot read the renderer's environment.
	delete(fm, "env")
	delete(fm, "expandenv")
	return fm
}

// renderPlain parses every template into one set (in name order, so a later `define` of the same
// name wins deterministically) and executes the entry.
func renderPlain(c *Resolved) Outcome {
	names := sortedKeys(c.Templates)
	if len(names) == 0 {
		return Outcome{Err: fmt.Errorf("oracle: a case needs at least one template")}
	}
	root := template.New(names[0])
	if fm := funcMapFor(c.Funcs); fm != nil {
		root.Funcs(fm)
	}
	root.Option("missingkey=" + c.MissingKey)
	for _, name := range names {
		t := root
		if name != root.Name() {
			t = root.New(name)
		}
		if _, err := t.Parse(c.Templates[name]); err != nil {
			return Outcome{Err: err}
		}
	}
	var buf strings.Builder
	if err := root.ExecuteTemplate(&buf, c.Entry, c.Data); err != nil {
		return Outcome{Output: buf.String(), Err: err}
	}
	return Outcome{Output: buf.String()}
}

// helmCapabilities is Helm's default set with a fixed Kubernetes version, so vectors do not depend
// on the linker flags Helm was built with.
func helmCapabilities() *chartutil.Capabilities {
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = chartutil.KubeVersion{Version: helmKubeVersion, Major: helmKubeMajor, Minor: helmKubeMinor}
	return caps
}

// renderHelm builds an in-memory chart (with its subcharts) from the case and renders it the way
// `helm template` does: the values are coalesced with the charts' defaults by
// chartutil.ToRenderValues, then helm.sh/helm/v3/pkg/engine renders every template.
func renderHelm(c *Resolved) Outcome {
	ch := newChart(helmChartName, "application", c.Templates, c.Files, c.ChartValues)
	for _, name := range sortedSubchartNames(c.Subcharts) {
		sub := c.Subcharts[name]
		ch.AddDependency(newChart(name, sub.Type, sub.Templates, nil, sub.Values))
		ch.Metadata.Dependencies = append(ch.Metadata.Dependencies,
			&chart.Dependency{Name: name, Version: helmChartVersion})
	}
	userValues := map[string]interface{}{}
	if m, ok := c.Data.(map[string]interface{}); ok {
		userValues = m
	}
	options := chartutil.ReleaseOptions{
		Name: helmReleaseName, Namespace: helmNamespace, Revision: 1, IsInstall: true,
	}
	top, err := chartutil.ToRenderValues(ch, userValues, options, helmCapabilities())
	if err != nil {
		return Outcome{Err: err}
	}
	eng := engine.Engine{Strict: c.MissingKey == "error"}
	rendered, err := eng.Render(ch, top)
	if err != nil {
		return Outcome{Err: err}
	}
	out, ok := rendered[helmChartName+"/"+c.Entry]
	if !ok {
		return Outcome{Err: fmt.Errorf("oracle: helm rendered no %s/%s (a partial, whose name starts with _, is never rendered)", helmChartName, c.Entry)}
	}
	return Outcome{Output: out}
}

func newChart(name, chartType string, templates, files map[string]string, values map[string]interface{}) *chart.Chart {
	if chartType == "" {
		chartType = "application"
	}
	ch := &chart.Chart{
		Metadata: &chart.Metadata{
			APIVersion: chart.APIVersionV2,
			Name:       name,
			Version:    helmChartVersion,
			AppVersion: helmAppVersion,
			Type:       chartType,
		},
		Values: values,
	}
	if ch.Values == nil {
		ch.Values = map[string]interface{}{}
	}
	for _, file := range sortedKeys(templates) {
		ch.Templates = append(ch.Templates, &chart.File{Name: file, Data: []byte(templates[file])})
	}
	for _, file := range sortedKeys(files) {
		ch.Files = append(ch.Files, &chart.File{Name: file, Data: []byte(files[file])})
	}
	return ch
}

func sortedSubchartNames(m map[string]*Subchart) []string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
