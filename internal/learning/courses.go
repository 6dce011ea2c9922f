package learning

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mailschool/mailschool/internal/access"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
)

// Limits of the course fields.
const (
	MaxTitleRunes       = 200
	MaxDescriptionRunes = 2000
	MaxSlugLength       = orgs.MaxSlugLength
	CoursesPageSize     = 25
)

// Errors about courses.
var (
	ErrCourseNotFound = problem.New(problem.NotFound, "course_not_found", "There is no such course in this organization.")
	ErrNoPublished    = problem.New(problem.Conflict, "no_published_content",
		"A course can only be enabled once it has at least one published lesson or quiz: publish one first.")
	ErrCourseEnabled = problem.New(problem.Conflict, "course_enabled",
		"An enabled course cannot be deleted: disable it first.")
)

// CourseFields are the values of a course form or API request. On update,
// nil leaves a field as it is.
type CourseFields struct {
	Title       *string
	Slug        *string // on create; empty or nil makes one from the title. Fixed afterwards
	Description *string
	Enabled     *bool // default off; on only with published content
	Public      *bool // default on
}

// CoursePage is one page of an organization's courses.
type CoursePage struct {
	Org      orgs.View
	Items    []store.CourseSummary
	Total    int
	Page     int // from 1
	Pages    int
	Search   string
	CanEdit  bool
	PageSize int
}

// Courses returns one page of the organization's courses by title, those
// whose title contains search when it is not empty.
func (s *Service) Courses(ctx context.Context, actor *store.User, orgID int64, search string, page int) (CoursePage, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, access.ViewOrganization)
	if err != nil {
		return CoursePage{}, err
	}
	page = max(page, 1)
	items, total, err := q.ListCourses(ctx, store.CourseFilter{OrganizationID: orgID, Search: search,
		Offset: store.Offset(page, CoursesPageSize), Limit: CoursesPageSize})
	if err != nil {
		return CoursePage{}, err
	}
	return CoursePage{Org: v, Items: items, Total: total, Page: page, Pages: max(1, (total+CoursesPageSize-1)/CoursesPageSize),
		Search: search, CanEdit: canEdit(actor, v), PageSize: CoursesPageSize}, nil
}

// CourseView is a course as one user sees it: with its content in order
// and whether the user may change them.
type CourseView struct {
	Org      orgs.View
	Course   store.Course
	Contents []store.ContentItem
	CanEdit  bool
	// CanImport tells whether the actor may import learners into it.
	CanImport bool
	// Enrollments counts the course's enrollments, whatever their status:
	// deleting the course removes them.
	Enrollments int
}

// Lessons counts the course's lessons.
func (c CourseView) Lessons() int { return c.count(store.KindLesson) }

// Quizzes counts the course's quizzes.
func (c CourseView) Quizzes() int { return c.count(store.KindQuiz) }

func (c CourseView) count(kind string) int {
	n := 0
	for _, item := range c.Contents {
		if item.Kind == kind {
			n++
		}
	}
	return n
}

// Course returns a course the actor may see, with its content.
func (s *Service) Course(ctx context.Context, actor *store.User, orgID, courseID int64) (CourseView, error) {
	return s.courseView(ctx, actor, orgID, courseID, access.ViewOrganization)
}

// CourseForEditing returns a course, with its content, that the actor may
// change: for the edit and delete forms.
func (s *Service) CourseForEditing(ctx context.Context, actor *store.User, orgID, courseID int64) (CourseView, error) {
	return s.courseView(ctx, actor, orgID, courseID, access.EditContent)
}

func (s *Service) courseView(ctx context.Context, actor *store.User, orgID, courseID int64, action access.Action) (CourseView, error) {
	q := s.db.Read()
	v, err := orgs.Authorize(ctx, q, actor, orgID, action)
	if err != nil {
		return CourseView{}, err
	}
	c, err := q.Course(ctx, orgID, courseID)
	if errors.Is(err, store.ErrNotFound) {
		return CourseView{}, ErrCourseNotFound
	}
	if err != nil {
		return CourseView{}, err
	}
	contents, err := q.CourseContents(ctx, orgID, courseID)
	if err != nil {
		return CourseView{}, err
	}
	enrollments, err := q.CountCourseEnrollments(ctx, orgID, courseID)
	if err != nil {
		return CourseView{}, err
	}
	return CourseView{Org: v, Course: c, Contents: contents, CanEdit: canEdit(actor, v), Enrollments: enrollments,
		CanImport: access.Allowed(actor, v.Role, access.ImportLearners)}, nil
}

// OrganizationForEditing returns the organization when the actor may add
// courses and content to it: for the new course form.
func (s *Service) OrganizationForEditing(ctx context.Context, actor *store.User, orgID int64) (orgs.View, error) {
	return orgs.Authorize(ctx, s.db.Read(), actor, orgID, access.EditContent)
}

// CreateCourse adds a course to an organization. Without a slug, one is
// made from the title, numbered when taken.
func (s *Service) CreateCourse(ctx context.Context, actor *store.User, orgID int64, f CourseFields) (store.Course, error) {
	var id int64
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		// Who may comes first: an outsider learns nothing from the
		// answer, whatever the input.
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.EditContent); err != nil {
			return err
		}
		title, description, err := validateCourse(deref(f.Title), deref(f.Description))
		if err != nil {
			return err
		}
		slug := strings.TrimSpace(deref(f.Slug))
		if slug != "" {
			if slug, err = validSlug(slug); err != nil {
				return err
			}
		}
		public := f.Public == nil || *f.Public
		if f.Enabled != nil && *f.Enabled {
			return ErrNoPublished // a new course has no content yet
		}
		if taken, err := titleTaken(ctx, q, orgID, title, 0); err != nil {
			return err
		} else if taken {
			return errTitleTaken(title)
		}
		if slug == "" {
			if slug, err = freeSlug(ctx, q, orgID, courseSlug(title)); err != nil {
				return err
			}
		} else if taken, err := q.CourseSlugTaken(ctx, orgID, slug); err != nil {
			return err
		} else if taken {
			return slugTaken(slug)
		}
		id, err = q.CreateCourse(ctx, store.NewCourse{OrganizationID: orgID, Title: title, TitleKey: titleKey(title),
			TitleSkeleton: names.Key(title), Slug: slug, Description: description, Public: public})
		if errors.Is(err, store.ErrConflict) {
			return problem.New(problem.Conflict, "conflict",
				"Another course with this title or address was added at the same moment. Try again.")
		}
		return err
	})
	if err != nil {
		return store.Course{}, fmt.Errorf("create course in organization %d: %w", orgID, err)
	}
	return s.db.Read().Course(ctx, orgID, id)
}

// UpdateCourse changes the given fields of a course. The slug is fixed
// after creation; enabling needs published content.
func (s *Service) UpdateCourse(ctx context.Context, actor *store.User, orgID, courseID int64, f CourseFields) (store.Course, error) {
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.EditContent); err != nil {
			return err
		}
		c, err := lockCourse(ctx, q, orgID, courseID)
		if err != nil {
			return err
		}
		if f.Slug != nil && strings.TrimSpace(*f.Slug) != c.Slug {
			return problem.Field("slug", "slug_fixed", "A course's address is fixed once the course exists.")
		}
		title, description, err := validateCourse(or(f.Title, c.Title), or(f.Description, c.Description))
		if err != nil {
			return err
		}
		enabled, public := orBool(f.Enabled, c.Enabled), orBool(f.Public, c.Public)
		if enabled && !c.Enabled {
			n, err := q.CountPublishedContents(ctx, orgID, courseID)
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrNoPublished
			}
		}
		shared, err := keepTitle(ctx, q, c, title)
		if err != nil {
			return err
		}
		err = q.UpdateCourse(ctx, orgID, courseID, store.CourseFields{Title: title, TitleKey: titleKey(title),
			TitleSkeleton: names.Key(title), TitleSkeletonShared: shared, Description: description, Enabled: enabled, Public: public})
		if errors.Is(err, store.ErrConflict) {
			return errTitleTaken(title) // a concurrent request took it first
		}
		if err != nil || enabled == c.Enabled || len(s.onEvent) == 0 {
			return err
		}
		kind := CourseEnabled
		if !enabled {
			kind = CourseDisabled
		}
		changed, err := q.Course(ctx, orgID, courseID)
		if err != nil {
			return err
		}
		return s.emit(ctx, q, Event{Kind: kind, OrganizationID: orgID, Course: &changed})
	})
	if err != nil {
		return store.Course{}, fmt.Errorf("update course %d: %w", courseID, err)
	}
	return s.db.Read().Course(ctx, orgID, courseID)
}

// DeleteCourse removes a disabled course and, by the foreign keys,
// everything that belongs to it: its content and, with them, whatever
// refers to the course.
func (s *Service) DeleteCourse(ctx context.Context, actor *store.User, orgID, courseID int64) error {
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		if _, err := orgs.Authorize(ctx, q, actor, orgID, access.EditContent); err != nil {
			return err
		}
		c, err := lockCourse(ctx, q, orgID, courseID)
		if err != nil {
			return err
		}
		if c.Enabled {
			return ErrCourseEnabled
		}
		return q.DeleteCourse(ctx, orgID, courseID)
	})
	if err != nil {
		return fmt.Errorf("delete course %d: %w", courseID, err)
	}
	return nil
}

// lockCourse loads a course of the organization for a change to it or its
// content, holding it until the transaction ends.
func lockCourse(ctx context.Context, q *store.Queries, orgID, courseID int64) (store.Course, error) {
	c, err := q.LockCourse(ctx, orgID, courseID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Course{}, ErrCourseNotFound
	}
	return c, err
}

func canEdit(actor *store.User, v orgs.View) bool {
	return access.Allowed(actor, v.Role, access.EditContent)
}

// validateCourse checks and cleans a course's title and description.
func validateCourse(title, description string) (string, string, error) {
	description = strings.TrimSpace(normalizeNewlines(description))
	fields := map[string]string{}
	title, msg := cleanTitle(title)
	if msg != "" {
		fields["title"] = msg
	}
	switch {
	case !utf8.ValidString(description):
		fields["description"] = "The description is not valid text."
	case utf8.RuneCountInString(description) > MaxDescriptionRunes:
		fields["description"] = fmt.Sprintf("The description is too long: use at most %d characters.", MaxDescriptionRunes)
	case strings.ContainsFunc(description, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		fields["description"] = "The description may not contain control characters."
	}
	if len(fields) > 0 {
		return "", "", &problem.Error{Kind: problem.Invalid, Code: "invalid_course",
			Message: "The course was not saved: correct the marked fields.", Fields: fields}
	}
	return title, description, nil
}

// cleanTitle returns the title of a course or of a content item as
// names.Clean makes it, and what is wrong with it, or "".
func cleanTitle(title string) (string, string) {
	title, err := names.Clean(title)
	switch {
	case err != nil:
		return "", names.Message("title", err)
	case title == "":
		return "", "Enter a title."
	case utf8.RuneCountInString(title) > MaxTitleRunes:
		return "", fmt.Sprintf("The title is too long: use at most %d characters.", MaxTitleRunes)
	}
	return title, ""
}

// titleTaken reports whether a course of the organization other than
// except has the title in another case, or a title that looks like it.
func titleTaken(ctx context.Context, q *store.Queries, orgID int64, title string, except int64) (bool, error) {
	return q.CourseTitleTaken(ctx, orgID, titleKey(title), names.Key(title), except)
}

// keepTitle checks the title a course is saved with, and reports whether
// its skeleton is to be marked shared: as orgs does for organization
// names, a look-alike title is refused unless it is the course's own,
// unchanged, which stays shared while another course holds the skeleton.
func keepTitle(ctx context.Context, q *store.Queries, c store.Course, title string) (shared bool, err error) {
	taken, err := titleTaken(ctx, q, c.OrganizationID, title, c.ID)
	switch {
	case err != nil || !taken:
		return false, err
	case title != c.Title:
		return false, errTitleTaken(title)
	}
	return q.CourseSkeletonHeld(ctx, c.OrganizationID, names.Key(title), c.ID)
}

func errTitleTaken(title string) error {
	msg := fmt.Sprintf("This organization already has a course titled %q.", title)
	return problem.FieldConflict("title", "title_taken", msg)
}

func slugTaken(slug string) error {
	msg := fmt.Sprintf("The address %q is taken by another course of this organization.", slug)
	return problem.FieldConflict("slug", "slug_taken", msg)
}

// titleKey is a title as compared for uniqueness, beside names.Key: case
// does not count. It also orders and finds courses by title.
func titleKey(title string) string { return strings.ToLower(title) }

// courseSlug makes a slug from a course title as organizations make theirs,
// but says "course" when the title has no ASCII letter or digit to keep.
func courseSlug(title string) string {
	if !strings.ContainsFunc(title, func(r rune) bool { return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) }) {
		return "course"
	}
	return orgs.Slugify(title)
}

// freeSlug returns base, or base with the smallest free numeric suffix,
// among the organization's courses.
func freeSlug(ctx context.Context, q *store.Queries, orgID int64, base string) (string, error) {
	slug := base
	for i := 2; ; i++ {
		taken, err := q.CourseSlugTaken(ctx, orgID, slug)
		if err != nil || !taken {
			return slug, err
		}
		slug = fmt.Sprintf("%s-%d", base, i)
	}
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func validSlug(slug string) (string, error) {
	if len(slug) > MaxSlugLength || !slugPattern.MatchString(slug) {
		return "", problem.Field("slug", "invalid_slug",
			fmt.Sprintf("The address may hold lower-case letters, digits and single hyphens, at most %d characters.", MaxSlugLength))
	}
	return slug, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func or(s *string, fallback string) string {
	if s == nil {
		return fallback
	}
	return *s
}

func orBool(b *bool, fallback bool) bool {
	if b == nil {
		return fallback
	}
	return *b
}

func orInt(n *int, fallback int) int {
	if n == nil {
		return fallback
	}
	return *n
}
