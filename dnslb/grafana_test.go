package dnslb

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// grafanaDashboard is what Grafana's import reads of a dashboard (schema
// version 39, the JSON model of Grafana 10 and 11), and what this file
// checks of contrib/grafana/dnslb.json.
type grafanaDashboard struct {
	Requires []struct {
		Type, ID, Name, Version string
	} `json:"__requires"`
	Title         string
	UID           string
	SchemaVersion *int
	Templating    struct {
		List []struct {
			Name, Type string
			Query      any
			Datasource *grafanaDatasource
		}
	}
	Panels []struct {
		ID         *int
		Type       string
		Title      string
		Datasource *grafanaDatasource
		GridPos    *struct{ H, W, X, Y int }
		Targets    []struct {
			RefID string `json:"refId"`
			Expr  string
		}
	}
}

type grafanaDatasource struct{ Type, UID string }

// grafanaBuiltins are the variables Grafana itself sets in a query.
var grafanaBuiltins = []string{"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms"}

// grafanaVarRE finds $name and ${name} (and ${name:format}) in a query.
var grafanaVarRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\$([A-Za-z0-9_]+)`)

// TestGrafanaDashboard checks contrib/grafana/dnslb.json as far as can be
// done without a Grafana server (none can be installed here: Debian has no
// grafana package, the Go module of the server is not ours to use, and
// npm has only Grafana's libraries): the fields Grafana's import needs
// (a title, a uid of at most 40 letters, digits, - and _, a schemaVersion,
// panels each with a unique id, a type listed in __requires, a title, a
// place on the 24-column grid overlapping no other, a Prometheus data
// source by the dashboard's datasource variable, targets with unique
// refIds), every variable a query uses defined by the dashboard or by
// Grafana, and every expression, with the variables put in as Grafana
// would, valid PromQL to promtool (as recording rules of a rule file it
// checks). TestContribMetricNames checks the metric names against
// /metrics.
func TestGrafanaDashboard(t *testing.T) {
	promtool := needTool(t, "promtool", "prometheus")
	data, err := os.ReadFile("../contrib/grafana/dnslb.json")
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("contrib/grafana/dnslb.json: %v", err)
	}
	if d.Title == "" {
		t.Error("no title")
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`).MatchString(d.UID) {
		t.Errorf("uid %q: want 1 to 40 letters, digits, - or _", d.UID)
	}
	if d.SchemaVersion == nil || *d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %v: want 36 or later (data sources by uid)", d.SchemaVersion)
	}
	required := map[string]bool{}
	for _, r := range d.Requires {
		required[r.Type+"/"+r.ID] = true
	}
	for _, want := range []string{"grafana/grafana", "datasource/prometheus"} {
		if !required[want] {
			t.Errorf("__requires lacks %s", want)
		}
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		switch {
		case v.Name == "" || v.Type == "":
			t.Errorf("template variable %q of type %q: want a name and a type", v.Name, v.Type)
		case v.Type == "datasource" && v.Query != "prometheus":
			t.Errorf("data source variable %q picks %v, want prometheus", v.Name, v.Query)
		case v.Type == "query" && (v.Datasource == nil || v.Datasource.Type != "prometheus"):
			t.Errorf("query variable %q has no Prometheus data source", v.Name)
		}
	}
	if len(d.Panels) < 8 {
		t.Errorf("%d panels: want panels for queries, latency, health, shares, reloads", len(d.Panels))
	}
	var grid [24][]bool // grid[x][y]: taken
	ids := map[int]bool{}
	var rules strings.Builder
	rules.WriteString("groups:\n- name: dashboard\n  rules:\n")
	nexprs := 0
	for i, p := range d.Panels {
		what := fmt.Sprintf("panel %d %q", i, p.Title)
		if p.ID == nil || ids[*p.ID] {
			t.Errorf("%s: id missing or not unique", what)
		} else {
			ids[*p.ID] = true
		}
		if p.Title == "" || p.Type == "" || !required["panel/"+p.Type] {
			t.Errorf("%s: type %q: want a title and a type listed in __requires", what, p.Type)
		}
		if ds := p.Datasource; ds == nil || ds.Type != "prometheus" || !vars[strings.Trim(ds.UID, "${}")] {
			t.Errorf("%s: data source %+v: want prometheus by the dashboard's data source variable", what, ds)
		}
		if g := p.GridPos; g == nil || g.W < 1 || g.H < 1 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v: want a place on the 24 columns", what, g)
		} else {
			overlap := false
			for x := g.X; x < g.X+g.W; x++ {
				for y := g.Y; y < g.Y+g.H; y++ {
					for len(grid[x]) <= y {
						grid[x] = append(grid[x], false)
					}
					overlap = overlap || grid[x][y]
					grid[x][y] = true
				}
			}
			if overlap {
				t.Errorf("%s: gridPos %+v overlaps another panel", what, *g)
			}
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", what)
		}
		var refs []string
		for _, tg := range p.Targets {
			if tg.RefID == "" || slices.Contains(refs, tg.RefID) {
				t.Errorf("%s: refId %q missing or not unique", what, tg.RefID)
			}
			refs = append(refs, tg.RefID)
			expr := grafanaVarRE.ReplaceAllStringFunc(tg.Expr, func(m string) string {
				sub := grafanaVarRE.FindStringSubmatch(m)
				name := sub[1] + sub[2]
				switch {
				case strings.HasPrefix(name, "__r"), strings.HasPrefix(name, "__i"):
					return "5m" // a range, as Grafana puts in
				case vars[name]:
					return ".*" // the variable's "All"
				}
				if !slices.Contains(grafanaBuiltins, name) {
					t.Errorf("%s: query %q uses $%s, which neither the dashboard nor Grafana defines", what, tg.Expr, name)
				}
				return "x"
			})
			fmt.Fprintf(&rules, "  - record: dashboard:panel%d:%s\n    expr: %q\n", i, tg.RefID, expr)
			nexprs++
		}
	}
	if nexprs == 0 {
		t.Fatal("no expression to check")
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("the dashboard's expressions are not all PromQL: promtool check rules: %v\n%s\n%s", err, out, rules.String())
	}
}
