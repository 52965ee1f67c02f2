package ui

import (
	"net/http"

	"github.com/vexilhq/vexil/internal/api"
)

type clientsData struct {
	Builds  []api.ClientBuild
	Current string // the hash of the definitions the server has now
}

// clientsPage shows which builds, of which definitions, read an environment.
func (h *handler) clientsPage(w http.ResponseWriter, r *http.Request, s *session) {
	env := r.PathValue("env")
	var out api.Clients
	if err := h.api.getJSON(r.Context(), s.token, envPath(env, "clients"), &out); err != nil {
		h.fail(w, r, s, err)
		return
	}
	p := h.newPage(r, s, "Clients · "+env, "clients")
	p.Data = clientsData{Builds: out.Clients, Current: out.CurrentDefinitions}
	h.render(w, r, http.StatusOK, "clients", p)
}
