package admin

import (
	"fmt"
	"net/http"
)

// explainer is implemented by backends that can explain an answer; the
// admin API serves GET /api/explain when the backend is one.
type explainer interface {
	Explain(name, qtype, client, subnet string) (string, error)
}

// apiExplain answers GET /api/explain?name=&type=&client=&subnet= as text.
func (a *Server) apiExplain(w http.ResponseWriter, r *http.Request) {
	ex, ok := a.backend.(explainer)
	if !ok {
		http.Error(w, "explain is not supported by this backend", http.StatusNotImplemented)
		return
	}
	q := r.URL.Query()
	out, err := ex.Explain(q.Get("name"), q.Get("type"), q.Get("client"), q.Get("subnet"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, out)
}
