package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeCaseFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cases.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEachDataExpandsIntoNumberedCasesWithFloatData(t *testing.T) {
	path := writeCaseFile(t, `
funcs: sprig
cases:
  - name: typed
    template: '{{ typeOf . }}'
    each_data: [1, a, null]
`)
	cases, err := loadCaseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var names, outputs []string
	for _, c := range cases {
		names = append(names, c.Name)
		out := render(c)
		if out.Err != nil {
			t.Fatalf("%s: %v", c.Name, out.Err)
		}
		outputs = append(outputs, out.Output)
	}
	if got := strings.Join(names, ","); got != "typed/1,typed/2,typed/3" {
		t.Errorf("names = %s", got)
	}
	if got := strings.Join(outputs, ","); got != "float64,string,<nil>" {
		t.Errorf("outputs = %s", got)
	}
}

func TestRejectsCasesThatCannotRender(t *testing.T) {
	for name, text := range map[string]string{
		"no template":        "cases: [{name: x}]",
		"two sources":        "cases: [{name: x, template: a, each_template: [b]}]",
		"unknown funcs":      "cases: [{name: x, template: a, funcs: jinja}]",
		"files outside helm": "cases: [{name: x, template: a, files: {a: b}}]",
		"duplicate names":    "cases: [{name: x, template: a}, {name: x, template: b}]",
		"unknown field":      "cases: [{name: x, template: a, tempalte: b}]",
	} {
		if _, err := loadCaseFile(writeCaseFile(t, text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestVectorRecordsDataAsItWasBeforeRendering(t *testing.T) {
	c := &Resolved{
		Name: "mutates", Funcs: FuncsSprig, MissingKey: "default", Entry: "main",
		Templates: map[string]string{"main": `{{ $_ := set . "added" 1 }}{{ . }}`},
		Data:      map[string]interface{}{"a": 1.0},
	}
	v, err := vectorOf(c)
	if err != nil {
		t.Fatal(err)
	}
	if v.Output == nil || *v.Output != "map[a:1 added:1]" {
		t.Errorf("output = %v", v.Output)
	}
	var buf bytes.Buffer
	if err := encodeVector(&buf, v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"data":{"a":1}`) {
		t.Errorf("recorded data changed by rendering: %s", buf.String())
	}
	if _, ok := c.Data.(map[string]interface{})["added"]; ok {
		t.Error("rendering changed the case's own data")
	}
}

func TestHelmModeRemovesNoValueAndWrapsFail(t *testing.T) {
	c := &Resolved{
		Name: "helm", Funcs: FuncsHelm, MissingKey: "zero", Entry: "templates/main.yaml",
		Templates: map[string]string{"templates/main.yaml": `[{{ .Values.missing }}]{{ .Release.Name }}`},
	}
	if out := render(c); out.Err != nil || out.Output != "[]release-name" {
		t.Errorf("got %q, %v", out.Output, out.Err)
	}
	c.Templates["templates/main.yaml"] = `{{ fail "stop" }}`
	out := render(c)
	if out.Err == nil || out.Err.Error() != "execution error at (oracle/templates/main.yaml:1:3): stop" {
		t.Errorf("got %v", out.Err)
	}
}

func TestOutputThatIsNotUTF8IsRecordedAsBase64(t *testing.T) {
	c := &Resolved{
		Name: "bytes", Funcs: FuncsGo, MissingKey: "default", Entry: "main",
		Templates: map[string]string{"main": `{{ slice "日本" 1 }}`},
	}
	v, err := vectorOf(c)
	if err != nil {
		t.Fatal(err)
	}
	if v.Output != nil || v.OutputBase64 == nil || *v.OutputBase64 != "l6XmnKw=" {
		t.Errorf("output %v, base64 %v", v.Output, v.OutputBase64)
	}
}

func TestFuzzIsReproducibleFromItsSeed(t *testing.T) {
	draw := func() string {
		g := &generator{rng: newSeededRand(42), funcs: FuncsSprig}
		var b strings.Builder
		for i := 0; i < 50; i++ {
			c := g.newCase("x")
			b.WriteString(c.Templates["main"])
		}
		return b.String()
	}
	if draw() != draw() {
		t.Error("the same seed drew different templates")
	}
}
