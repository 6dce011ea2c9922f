package web

import "net/http"

// audience says who may reach a route at all; what a logged-in user may do
// inside an organization is decided by the access package.
type audience int

const (
	anyone   audience = iota // no login needed
	loggedIn                 // any active user
)

type route struct {
	pattern  string // net/http ServeMux pattern, method first
	audience audience
	handler  http.HandlerFunc
}

// routes is the whole URL space of mailschool: reading this function tells
// who may call what.
func (s *Server) routes() []route {
	return []route{
		{"GET /{$}", anyone, s.home},
		{"GET /healthz", anyone, s.health},
		{"GET /static/{file}", anyone, s.static},

		{"GET /accounts/login/", anyone, s.loginForm},
		{"POST /accounts/login/", anyone, s.login},
		{"POST /accounts/logout/", anyone, s.logout},
		{"GET /accounts/password_change/", loggedIn, s.passwordChangeForm},
		{"POST /accounts/password_change/", loggedIn, s.passwordChange},

		{"GET /email-learning/platform/", loggedIn, s.platformHome},

		{"/", anyone, s.notFound},
	}
}

// guard enforces a route's audience before its handler runs.
func (s *Server) guard(rt route) http.Handler {
	if rt.audience == anyone {
		return rt.handler
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r.Context()) == nil {
			s.requireLogin(w, r)
			return
		}
		rt.handler(w, r)
	})
}
