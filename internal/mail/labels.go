package mail

import (
	"maps"
	"slices"
)

// kindLabels are the words the outbox shows for each kind of email. Every
// kind has one (a test checks), so nobody reads an identifier.
var kindLabels = map[Kind]string{
	KindTest:                 "Test email",
	KindPasswordChanged:      "Password changed",
	KindInvitation:           "Invitation",
	KindMemberAdded:          "Added to an organization",
	KindPasswordReset:        "Password reset link",
	KindLesson:               "Lesson",
	KindEnrollmentConfirm:    "Enrollment confirmation",
	KindEnrollmentReminder:   "Enrollment reminder",
	KindQuiz:                 "Quiz",
	KindCourseFailed:         "Course failed",
	KindCourseCompleted:      "Course completed",
	KindEmailChangeConfirm:   "Address change link",
	KindEmailChangeRequested: "Address change notice",
	KindSignupConfirm:        "Sign-up confirmation",
	KindSignupExisting:       "Sign-up for an existing account",
	KindWebhookDisabled:      "Webhook endpoint turned off",
}

// Kinds lists every kind of email, in a fixed order.
func Kinds() []Kind {
	kinds := slices.Collect(maps.Keys(kindLabels))
	slices.Sort(kinds)
	return kinds
}

// KindLabel is what people read for a recorded email's kind. A kind no
// longer known (recorded by another version) is shown as it is stored.
func KindLabel(kind string) string {
	if label, ok := kindLabels[Kind(kind)]; ok {
		return label
	}
	return kind
}
