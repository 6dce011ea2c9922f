package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
)

func coursesPath(orgID int64) string { return organizationPath(orgID) + "courses/" }

func coursePath(orgID, courseID int64) string { return coursesPath(orgID) + itoa(courseID) + "/" }

// courseIDs reads the organization and course ids of a URL.
func courseIDs(r *http.Request) (orgID, courseID int64, err error) {
	return orgAndID(r, "course_id")
}

// refused reports whether err is an answer about the request itself (no
// such organization, course or item, or not allowed), which a page shows
// instead of the form it came from.
func refused(err error) bool {
	p, ok := problem.As(err)
	return !ok || p.Kind == problem.NotFound || p.Kind == problem.Forbidden
}

func (s *Server) courseList(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	pageNo, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page, err := s.learning.Courses(r.Context(), currentUser(r.Context()), id, r.URL.Query().Get("q"), pageNo)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "courses.html", "Courses of "+page.Org.Name, page)
}

// courseForm is the data of the course create and edit forms.
type courseForm struct {
	Org         orgs.View
	ID          int64 // 0 when creating
	Title       string
	Slug        string // chosen on create; shown, fixed, on edit
	Description string
	Public      bool
	formErrors
}

func (s *Server) courseNewForm(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v, err := s.learning.OrganizationForEditing(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "course_form.html", "Add course", courseForm{Org: v, Public: true})
}

func (s *Server) courseCreate(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user := currentUser(r.Context())
	form := courseForm{Title: r.PostFormValue("title"), Slug: r.PostFormValue("slug"), Description: r.PostFormValue("description"),
		Public: r.PostFormValue("public") == "on"}
	c, err := s.learning.CreateCourse(r.Context(), user, id, learning.CourseFields{Title: &form.Title, Slug: &form.Slug,
		Description: &form.Description, Public: &form.Public})
	if err == nil {
		s.flashNext(r, fmt.Sprintf("Course %q was added. Add lessons and quizzes, publish them, then enable the course.", c.Title))
		http.Redirect(w, r, coursePath(id, c.ID), http.StatusSeeOther)
		return
	}
	if refused(err) {
		s.pageError(w, r, err)
		return
	}
	v, getErr := s.learning.OrganizationForEditing(r.Context(), user, id)
	if getErr != nil {
		s.pageError(w, r, getErr)
		return
	}
	form.Org = v
	s.formError(w, r, "course_form.html", "Add course", err, postedFields(r), func(e formErrors) any {
		form.formErrors = e
		return form
	})
}

// coursePage is the page of one course.
type coursePage struct {
	learning.CourseView
	Error string // why the last change was refused
}

func (s *Server) courseDetail(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	cv, err := s.learning.Course(r.Context(), currentUser(r.Context()), orgID, courseID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "course.html", cv.Course.Title, coursePage{CourseView: cv})
}

func (s *Server) courseEditForm(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	cv, err := s.learning.CourseForEditing(r.Context(), currentUser(r.Context()), orgID, courseID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	c := cv.Course
	s.render(w, r, http.StatusOK, "course_form.html", "Edit "+c.Title,
		courseForm{Org: cv.Org, ID: c.ID, Title: c.Title, Slug: c.Slug, Description: c.Description, Public: c.Public})
}

func (s *Server) courseUpdate(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user := currentUser(r.Context())
	form := courseForm{ID: courseID, Title: r.PostFormValue("title"), Description: r.PostFormValue("description"),
		Public: r.PostFormValue("public") == "on"}
	_, err = s.learning.UpdateCourse(r.Context(), user, orgID, courseID, learning.CourseFields{Title: &form.Title,
		Description: &form.Description, Public: &form.Public})
	if err == nil {
		s.publicPages.forget(orgID) // it lists public courses by title
		s.flashNext(r, "Your changes were saved.")
		http.Redirect(w, r, coursePath(orgID, courseID), http.StatusSeeOther)
		return
	}
	if refused(err) {
		s.pageError(w, r, err)
		return
	}
	cv, getErr := s.learning.CourseForEditing(r.Context(), user, orgID, courseID)
	if getErr != nil {
		s.pageError(w, r, getErr)
		return
	}
	form.Org, form.Slug = cv.Org, cv.Course.Slug
	s.formError(w, r, "course_form.html", "Edit "+cv.Course.Title, err, postedFields(r), func(e formErrors) any {
		form.formErrors = e
		return form
	})
}

// courseSetEnabled is the course page's enable/disable button.
func (s *Server) courseSetEnabled(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user := currentUser(r.Context())
	enabled := r.PostFormValue("enabled") == "true"
	c, err := s.learning.UpdateCourse(r.Context(), user, orgID, courseID, learning.CourseFields{Enabled: &enabled})
	if err == nil {
		s.publicPages.forget(orgID) // the public page lists enabled courses
		if c.Enabled {
			s.flashNext(r, "The course is enabled: its published lessons and quizzes go out to learners.")
		} else {
			s.flashNext(r, "The course is disabled: nothing more is sent until it is enabled again.")
		}
		http.Redirect(w, r, coursePath(orgID, courseID), http.StatusSeeOther)
		return
	}
	s.courseRefusal(w, r, orgID, courseID, err)
}

// courseRefusal shows the course page with the reason a change to it was
// refused, or the error page when the course cannot be shown.
func (s *Server) courseRefusal(w http.ResponseWriter, r *http.Request, orgID, courseID int64, err error) {
	if refused(err) {
		s.pageError(w, r, err)
		return
	}
	cv, getErr := s.learning.Course(r.Context(), currentUser(r.Context()), orgID, courseID)
	if getErr != nil {
		s.pageError(w, r, getErr)
		return
	}
	p, _ := problem.As(err)
	s.render(w, r, statusOf(p.Kind), "course.html", cv.Course.Title, coursePage{CourseView: cv, Error: p.Message})
}

func (s *Server) courseDeleteForm(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	cv, err := s.learning.CourseForEditing(r.Context(), currentUser(r.Context()), orgID, courseID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "course_delete.html", "Delete "+cv.Course.Title, coursePage{CourseView: cv})
}

func (s *Server) courseDelete(w http.ResponseWriter, r *http.Request) {
	orgID, courseID, err := courseIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	user := currentUser(r.Context())
	cv, err := s.learning.CourseForEditing(r.Context(), user, orgID, courseID)
	if err == nil {
		err = s.learning.DeleteCourse(r.Context(), user, orgID, courseID)
	}
	if err == nil {
		s.publicPages.forget(orgID)
		s.flashNext(r, fmt.Sprintf("Course %q and its content were deleted.", cv.Course.Title))
		http.Redirect(w, r, coursesPath(orgID), http.StatusSeeOther)
		return
	}
	if refused(err) {
		s.pageError(w, r, err)
		return
	}
	p, _ := problem.As(err)
	s.render(w, r, statusOf(p.Kind), "course_delete.html", "Delete "+cv.Course.Title, coursePage{CourseView: cv, Error: p.Message})
}
