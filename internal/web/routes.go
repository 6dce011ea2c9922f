package web

import (
	"net/http"

	"github.com/mailschool/mailschool/internal/access"
)

// audience says who may reach a route: anyone, any logged-in user, or the
// users whom the access package allows a platform action.
type audience struct {
	login    bool
	platform access.PlatformAction
}

var (
	anyone   = audience{}
	loggedIn = audience{login: true}
)

func allowedTo(action access.PlatformAction) audience {
	return audience{login: true, platform: action}
}

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
		{"GET /readyz", anyone, s.ready},
		{"GET /metrics", anyone, s.serveMetrics},
		{"GET /static/{file}", anyone, s.static},

		{"GET /accounts/login/", anyone, s.loginForm},
		{"POST /accounts/login/", anyone, s.login},
		{"POST /accounts/logout/", anyone, s.logout},
		{"GET /accounts/settings/", loggedIn, s.profile},
		{"POST /accounts/settings/name", loggedIn, s.profileName},
		{"POST /accounts/settings/password", loggedIn, s.passwordChange},
		{"POST /accounts/settings/sessions/end-others", loggedIn, s.endOtherSessions},
		{"POST /accounts/settings/sessions/{session_id}/end", loggedIn, s.endSession},
		{"POST /accounts/settings/email", loggedIn, s.emailChange},
		// The link sent to a new address: whoever reads that mailbox opens
		// it, logged in or not, in any browser.
		{"GET /accounts/settings/email/{token}/", anyone, s.emailChangeConfirmForm},
		{"POST /accounts/settings/email/{token}/", anyone, s.emailChangeConfirm},
		{"GET /accounts/settings/delete", loggedIn, s.accountDeleteForm},
		{"POST /accounts/settings/delete", loggedIn, s.accountDelete},
		// The password form's former address.
		{"GET /accounts/password_change/", loggedIn, s.passwordChangeMoved},
		{"POST /accounts/password_change/", loggedIn, s.passwordChange},
		// Sign-up answers 404 unless MAILSCHOOL_SIGNUP opens it.
		{"GET /accounts/signup/", anyone, s.signupForm},
		{"POST /accounts/signup/", anyone, s.signupPost},
		{"GET /accounts/signup/done/", anyone, s.signupDone},
		{"GET /accounts/signup/confirm/{token}/", anyone, s.signupConfirmForm},
		{"POST /accounts/signup/confirm/{token}/", anyone, s.signupConfirm},
		{"GET /accounts/password_reset/", anyone, s.passwordResetForm},
		{"POST /accounts/password_reset/", anyone, s.passwordReset},
		{"GET /accounts/password_reset/done/", anyone, s.passwordResetDone},
		{"GET /accounts/reset/{token}/", anyone, s.passwordResetConfirmForm},
		{"POST /accounts/reset/{token}/", anyone, s.passwordResetConfirm},

		{"GET /email-learning/platform/", loggedIn, s.platformHome},
		{"GET /email-learning/platform/outbox/", allowedTo(access.ViewOutbox), s.outboxList},
		{"GET /email-learning/platform/outbox/{id}/", allowedTo(access.ViewOutbox), s.outboxMessage},
		{"GET /email-learning/platform/outbox/{id}/html", allowedTo(access.ViewOutbox), s.outboxHTML},
		{"GET /email-learning/platform/outbox/{id}/raw", allowedTo(access.ViewOutbox), s.outboxRaw},

		{"GET /email-learning/platform/signups/", allowedTo(access.ViewAllOrganizations), s.signupList},
		{"GET /email-learning/platform/organizations/", loggedIn, s.organizationList},
		// Platform admins create organizations; while sign-up is open, any
		// user may too, for themselves: the organization service decides.
		{"GET /email-learning/platform/organizations/new", loggedIn, s.organizationNewForm},
		{"POST /email-learning/platform/organizations/", loggedIn, s.organizationCreate},
		{"POST /email-learning/platform/organizations/switch", loggedIn, s.organizationSwitch},
		{"GET /email-learning/platform/organizations/{id}/", loggedIn, s.organizationDetail},
		{"GET /email-learning/platform/organizations/{id}/edit", loggedIn, s.organizationEditForm},
		{"POST /email-learning/platform/organizations/{id}/edit", loggedIn, s.organizationUpdate},
		{"GET /email-learning/platform/organizations/{id}/delete", loggedIn, s.organizationDeleteForm},
		{"POST /email-learning/platform/organizations/{id}/delete", loggedIn, s.organizationDelete},
		{"GET /email-learning/platform/organizations/{id}/suspend", loggedIn, s.organizationSuspendForm},
		{"POST /email-learning/platform/organizations/{id}/suspend", loggedIn, s.organizationSuspend},
		{"POST /email-learning/platform/organizations/{id}/resume", loggedIn, s.organizationResume},
		{"GET /email-learning/platform/organizations/{id}/export", loggedIn, s.organizationExport},
		{"GET /email-learning/platform/organizations/{id}/members/new", loggedIn, s.memberNewForm},
		{"POST /email-learning/platform/organizations/{id}/members/", loggedIn, s.memberAdd},
		{"POST /email-learning/platform/organizations/{id}/members/{user_id}/role", loggedIn, s.memberRole},
		{"GET /email-learning/platform/organizations/{id}/members/{user_id}/remove", loggedIn, s.memberRemoveForm},
		{"POST /email-learning/platform/organizations/{id}/members/{user_id}/remove", loggedIn, s.memberRemove},
		{"POST /email-learning/platform/organizations/{id}/invitations/{invitation_id}/resend", loggedIn, s.invitationResend},
		{"POST /email-learning/platform/organizations/{id}/invitations/{invitation_id}/revoke", loggedIn, s.invitationRevoke},
		{"GET /email-learning/platform/organizations/{id}/transfer", loggedIn, s.transferForm},
		{"POST /email-learning/platform/organizations/{id}/transfer", loggedIn, s.transfer},
		{"POST /email-learning/platform/organizations/{id}/transfer/accept", loggedIn, s.acceptOwnership},
		{"POST /email-learning/platform/organizations/{id}/transfer/end", loggedIn, s.endOwnershipOffer},
		{"GET /email-learning/platform/organizations/{id}/audit/", loggedIn, s.auditLog},
		{"GET /email-learning/platform/organizations/{id}/api-keys/", loggedIn, s.apiKeysList},
		{"POST /email-learning/platform/organizations/{id}/api-keys/", loggedIn, s.apiKeysCreate},
		{"GET /email-learning/platform/organizations/{id}/api-keys/{key_id}/revoke", loggedIn, s.apiKeyRevokeForm},
		{"POST /email-learning/platform/organizations/{id}/api-keys/{key_id}/revoke", loggedIn, s.apiKeysRevoke},
		{"GET /email-learning/platform/organizations/{id}/webhooks/", loggedIn, s.webhooksList},
		{"GET /email-learning/platform/organizations/{id}/webhooks/new", loggedIn, s.webhookNewForm},
		{"POST /email-learning/platform/organizations/{id}/webhooks/", loggedIn, s.webhookCreate},
		{"GET /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/", loggedIn, s.webhookShow},
		{"GET /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/edit", loggedIn, s.webhookEditForm},
		{"POST /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/edit", loggedIn, s.webhookUpdate},
		{"GET /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/delete", loggedIn, s.webhookConfirm(false)},
		{"POST /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/delete", loggedIn, s.webhookDelete},
		{"GET /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/rotate-secret", loggedIn, s.webhookConfirm(true)},
		{"POST /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/rotate-secret", loggedIn, s.webhookRotateSecret},
		{"POST /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/test", loggedIn, s.webhookSendTest},
		{"POST /email-learning/platform/organizations/{id}/webhooks/{webhook_id}/deliveries/{message_id}/redeliver", loggedIn, s.webhookRedeliver},
		{"GET /email-learning/platform/organizations/{id}/learners/", loggedIn, s.learnerList},
		{"GET /email-learning/platform/organizations/{id}/enrollments/{enrollment_id}/", loggedIn, s.enrollmentDetail},
		{"GET /email-learning/platform/organizations/{id}/enrollments/{enrollment_id}/cancel", loggedIn, s.enrollmentCancelForm},
		{"POST /email-learning/platform/organizations/{id}/enrollments/{enrollment_id}/cancel", loggedIn, s.enrollmentCancel},
		{"GET /email-learning/platform/organizations/{id}/certificates/", loggedIn, s.certificateList},
		{"GET /email-learning/platform/organizations/{id}/certificates/{number}/", loggedIn, s.certificateDetail},
		{"GET /email-learning/platform/organizations/{id}/certificates/{number}/revoke", loggedIn, s.certificateRevokeForm},
		{"POST /email-learning/platform/organizations/{id}/certificates/{number}/revoke", loggedIn, s.certificateRevoke},
		{"GET /email-learning/platform/organizations/{id}/blocked-emails/", loggedIn, s.blockedList},
		{"POST /email-learning/platform/organizations/{id}/blocked-emails/", loggedIn, s.blockedAdd},
		{"POST /email-learning/platform/organizations/{id}/blocked-emails/remove", loggedIn, s.blockedRemove},
		{"GET /email-learning/platform/blocked-emails/", allowedTo(access.ManageBlockedEmails), s.blockedList},
		{"POST /email-learning/platform/blocked-emails/", allowedTo(access.ManageBlockedEmails), s.blockedAdd},
		{"POST /email-learning/platform/blocked-emails/remove", allowedTo(access.ManageBlockedEmails), s.blockedRemove},
		{"GET /email-learning/platform/organizations/{id}/bounces/", loggedIn, s.bounceLog},

		// Courses and content: the learning service decides who may.
		{"GET /email-learning/platform/organizations/{id}/courses/{$}", loggedIn, s.courseList},
		{"GET /email-learning/platform/organizations/{id}/courses/new", loggedIn, s.courseNewForm},
		{"POST /email-learning/platform/organizations/{id}/courses/new", loggedIn, s.courseCreate},
		{"GET /email-learning/platform/organizations/{id}/courses/{course_id}/{$}", loggedIn, s.courseDetail},
		{"GET /email-learning/platform/organizations/{id}/courses/{course_id}/edit", loggedIn, s.courseEditForm},
		{"POST /email-learning/platform/organizations/{id}/courses/{course_id}/edit", loggedIn, s.courseUpdate},
		{"POST /email-learning/platform/organizations/{id}/courses/{course_id}/enabled", loggedIn, s.courseSetEnabled},
		{"GET /email-learning/platform/organizations/{id}/courses/{course_id}/delete", loggedIn, s.courseDeleteForm},
		{"POST /email-learning/platform/organizations/{id}/courses/{course_id}/delete", loggedIn, s.courseDelete},
		{"GET /email-learning/platform/organizations/{id}/courses/{course_id}/contents/new", loggedIn, s.contentNewForm},
		{"POST /email-learning/platform/organizations/{id}/courses/{course_id}/contents/new", loggedIn, s.contentCreate},
		{"GET /email-learning/platform/organizations/{id}/courses/{course_id}/contents/{content_id}/{$}", loggedIn, s.contentDetail},
		{"GET /email-learning/platform/organizations/{id}/courses/{course_id}/contents/{content_id}/edit", loggedIn, s.contentEditForm},
		{"POST /email-learning/platform/organizations/{id}/courses/{course_id}/contents/{content_id}/edit", loggedIn, s.contentUpdate},
		{"GET /email-learning/platform/organizations/{id}/courses/{course_id}/contents/{content_id}/delete", loggedIn, s.contentDeleteForm},
		{"POST /email-learning/platform/organizations/{id}/courses/{course_id}/contents/{content_id}/delete", loggedIn, s.contentDelete},
		{"POST /email-learning/platform/organizations/{id}/courses/{course_id}/contents/{content_id}/move", loggedIn, s.contentMove},
		{"GET /email-learning/platform/organizations/{id}/courses/{course_id}/imports/{$}", loggedIn, s.importList},
		{"POST /email-learning/platform/organizations/{id}/courses/{course_id}/imports/{$}", loggedIn, s.importCreate},
		{"GET /email-learning/platform/organizations/{id}/courses/{course_id}/imports/{import_id}/{$}", loggedIn, s.importDetail},
		{"GET /email-learning/platform/organizations/{id}/reports/", loggedIn, s.reports},
		{"GET /email-learning/platform/organizations/{id}/reports/email/", loggedIn, s.emailReport},
		{"GET /email-learning/platform/organizations/{id}/reports/courses/{course_id}/", loggedIn, s.courseReport},

		{"GET /invitations/{token}/", anyone, s.invitationShow},
		{"POST /invitations/{token}/", anyone, s.invitationAccept},

		{"GET /email-learning/public/organization/{id}/", anyone, s.publicOrganization},
		{"GET /email-learning/public/organization/{id}/logo", anyone, s.organizationLogo},
		{"GET /email-learning/public/organization/{id}/logo/thumb", anyone, s.organizationLogo},
		{"GET /email-learning/public/{handle}/", anyone, s.publicOrganizationBySlug},
		{"GET /email-learning/public/organization/{id}/courses/{slug}/", anyone, s.publicCourse},
		{"POST /email-learning/public/organization/{id}/courses/{slug}/enroll", anyone, s.publicEnroll},
		{"GET /email-learning/public/organization/{id}/courses/{slug}/enrolled", anyone, s.publicEnrolled},
		{"GET /email-learning/public/enrollments/confirm/{token}/", anyone, s.enrollmentConfirmForm},
		{"POST /email-learning/public/enrollments/confirm/{token}/", anyone, s.enrollmentConfirm},
		{"GET /email-learning/public/unsubscribe/{enrollment_id}/{signature}/", anyone, s.unsubscribeForm},
		{unsubscribePostPattern, anyone, s.unsubscribe},
		{"GET /email-learning/public/quizzes/{delivery_id}/{signature}/", anyone, s.quizForm},
		{"POST /email-learning/public/quizzes/{delivery_id}/{signature}/", anyone, s.quizAnswer},
		{"GET /email-learning/public/certificates/claim/{enrollment_id}/{signature}/", anyone, s.certificateClaimForm},
		{"POST /email-learning/public/certificates/claim/{enrollment_id}/{signature}/", anyone, s.certificateClaim},
		{"GET /email-learning/public/certificates/{number}/", anyone, s.certificatePage},
		{"GET /email-learning/public/certificates/{number}/qr.png", anyone, s.certificateQR},
		{"GET /email-learning/public/certificates/{number}/certificate.pdf", anyone, s.certificatePDF},
		// The email providers' bounce and complaint events, each checked
		// with the provider's signature; 404 for a provider not configured.
		{bounceWebhookPattern, anyone, s.bounceWebhook},

		{"GET /api/{$}", anyone, s.apiReferencePage},
		{"GET /api/v1/openapi.json", anyone, s.apiDescription},
		{"GET /api/v1/organizations", loggedIn, s.api(s.apiOrganizationList)},
		{"POST /api/v1/organizations", loggedIn, s.api(s.apiOrganizationCreate)},
		{"GET /api/v1/organizations/{id}", loggedIn, s.api(s.apiOrganizationGet)},
		{"PATCH /api/v1/organizations/{id}", loggedIn, s.api(s.apiOrganizationUpdate)},
		{"DELETE /api/v1/organizations/{id}", loggedIn, s.api(s.apiOrganizationDelete)},
		{"PUT /api/v1/organizations/{id}/logo", loggedIn, s.api(s.apiOrganizationLogoPut)},
		{"DELETE /api/v1/organizations/{id}/logo", loggedIn, s.api(s.apiOrganizationLogoDelete)},
		{"POST /api/v1/organizations/{id}/suspend", loggedIn, s.api(s.apiOrganizationSuspend)},
		{"POST /api/v1/organizations/{id}/resume", loggedIn, s.api(s.apiOrganizationResume)},
		{"GET /api/v1/organizations/{id}/members", loggedIn, s.api(s.apiMemberList)},
		{"POST /api/v1/organizations/{id}/members", loggedIn, s.api(s.apiMemberAdd)},
		{"PATCH /api/v1/organizations/{id}/members/{user_id}", loggedIn, s.api(s.apiMemberUpdate)},
		{"DELETE /api/v1/organizations/{id}/members/{user_id}", loggedIn, s.api(s.apiMemberRemove)},
		{"GET /api/v1/organizations/{id}/invitations", loggedIn, s.api(s.apiInvitationList)},
		{"POST /api/v1/organizations/{id}/invitations/{invitation_id}/resend", loggedIn, s.api(s.apiInvitationResend)},
		{"DELETE /api/v1/organizations/{id}/invitations/{invitation_id}", loggedIn, s.api(s.apiInvitationRevoke)},
		{"POST /api/v1/organizations/{id}/transfer-ownership", loggedIn, s.api(s.apiTransferOwnership)},
		{"GET /api/v1/organizations/{id}/transfer-ownership", loggedIn, s.api(s.apiOwnershipOffer)},
		{"DELETE /api/v1/organizations/{id}/transfer-ownership", loggedIn, s.api(s.apiEndOwnershipOffer)},
		{"POST /api/v1/organizations/{id}/transfer-ownership/accept", loggedIn, s.api(s.apiAcceptOwnership)},
		{"GET /api/v1/organizations/{id}/api-keys", loggedIn, s.api(s.apiKeyList)},
		{"POST /api/v1/organizations/{id}/api-keys", loggedIn, s.api(s.apiKeyCreate)},
		{"DELETE /api/v1/organizations/{id}/api-keys/{key_id}", loggedIn, s.api(s.apiKeyRevoke)},
		{"GET /api/v1/organizations/{id}/webhooks", loggedIn, s.api(s.apiWebhookList)},
		{"POST /api/v1/organizations/{id}/webhooks", loggedIn, s.api(s.apiWebhookCreate)},
		{"GET /api/v1/organizations/{id}/webhooks/{webhook_id}", loggedIn, s.api(s.apiWebhookGet)},
		{"PATCH /api/v1/organizations/{id}/webhooks/{webhook_id}", loggedIn, s.api(s.apiWebhookUpdate)},
		{"DELETE /api/v1/organizations/{id}/webhooks/{webhook_id}", loggedIn, s.api(s.apiWebhookDelete)},
		{"POST /api/v1/organizations/{id}/webhooks/{webhook_id}/rotate-secret", loggedIn, s.api(s.apiWebhookRotateSecret)},
		{"GET /api/v1/organizations/{id}/webhooks/{webhook_id}/deliveries", loggedIn, s.api(s.apiWebhookDeliveries)},
		{"POST /api/v1/organizations/{id}/webhooks/{webhook_id}/deliveries/{message_id}/redeliver", loggedIn, s.api(s.apiWebhookRedeliver)},
		{"POST /api/v1/organizations/{id}/webhooks/{webhook_id}/test", loggedIn, s.api(s.apiWebhookTest)},
		{"GET /api/v1/platform/api-keys", allowedTo(access.ManagePlatformKeys), s.api(s.apiPlatformKeyList)},
		{"POST /api/v1/platform/api-keys", allowedTo(access.ManagePlatformKeys), s.api(s.apiPlatformKeyCreate)},
		{"DELETE /api/v1/platform/api-keys/{key_id}", allowedTo(access.ManagePlatformKeys), s.api(s.apiPlatformKeyRevoke)},
		{"GET /api/v1/me", loggedIn, s.api(s.apiMe)},
		{"POST /api/v1/public/organizations/{id}/courses/{slug}/enrollments", anyone, s.api(s.apiPublicEnroll)},
		{"GET /api/v1/organizations/{id}/learners", loggedIn, s.api(s.apiLearnerList)},
		{"GET /api/v1/organizations/{id}/enrollments", loggedIn, s.api(s.apiEnrollmentList)},
		{"POST /api/v1/organizations/{id}/enrollments", loggedIn, s.api(s.apiEnrollmentCreate)},
		{"POST /api/v1/organizations/{id}/enrollments/{enrollment_id}/cancel", loggedIn, s.api(s.apiEnrollmentCancel)},
		{"GET /api/v1/organizations/{id}/certificates", loggedIn, s.api(s.apiCertificateList)},
		{"GET /api/v1/organizations/{id}/certificates/{number}", loggedIn, s.api(s.apiCertificateGet)},
		{"POST /api/v1/organizations/{id}/certificates/{number}/revoke", loggedIn, s.api(s.apiCertificateRevoke)},
		{"GET /api/v1/organizations/{id}/enrollments/{enrollment_id}", loggedIn, s.api(s.apiEnrollmentGet)},
		{"GET /api/v1/organizations/{id}/learners/{learner_id}", loggedIn, s.api(s.apiLearnerGet)},
		{"GET /api/v1/organizations/{id}/courses/{course_id}/quiz-attempts", loggedIn, s.api(s.apiQuizAttemptList)},
		{"GET /api/v1/platform/outbox", allowedTo(access.ViewOutbox), s.api(s.apiOutboxList)},
		{"GET /api/v1/platform/outbox/{message_id}", allowedTo(access.ViewOutbox), s.api(s.apiOutboxMessage)},
		{"GET /api/v1/organizations/{id}/blocked-emails", loggedIn, s.api(s.apiBlockedList)},
		{"POST /api/v1/organizations/{id}/blocked-emails", loggedIn, s.api(s.apiBlockedAdd)},
		{"DELETE /api/v1/organizations/{id}/blocked-emails", loggedIn, s.api(s.apiBlockedRemove)},
		{"GET /api/v1/organizations/{id}/bounces", loggedIn, s.api(s.apiBounceLog)},
		{"GET /api/v1/organizations/{id}/audit-log", loggedIn, s.api(s.apiAuditLog)},
		{"GET /api/v1/organizations/{id}/export", loggedIn, s.api(s.apiOrganizationExport)},
		{"POST /api/v1/organizations/import", allowedTo(access.ImportOrganization), s.api(s.apiOrganizationImport)},
		{"GET /api/v1/organizations/{id}/reports", loggedIn, s.api(s.apiReports)},
		{"GET /api/v1/organizations/{id}/exports/enrollments.csv", loggedIn, s.api(s.apiExportEnrollments)},
		{"GET /api/v1/organizations/{id}/exports/learners.csv", loggedIn, s.api(s.apiExportLearners)},
		{"GET /api/v1/organizations/{id}/exports/audit.csv", loggedIn, s.api(s.apiExportAudit)},
		{"GET /api/v1/organizations/{id}/exports/report.csv", loggedIn, s.api(s.apiExportReport)},
		{"GET /api/v1/organizations/{id}/courses/{course_id}/report", loggedIn, s.api(s.apiCourseReport)},
		{"GET /api/v1/organizations/{id}/courses/{course_id}/report.csv", loggedIn, s.api(s.apiExportCourseReport)},

		{"GET /api/v1/organizations/{id}/courses", loggedIn, s.api(s.apiCourseList)},
		{"POST /api/v1/organizations/{id}/courses", loggedIn, s.api(s.apiCourseCreate)},
		{"GET /api/v1/organizations/{id}/courses/{course_id}", loggedIn, s.api(s.apiCourseGet)},
		{"PATCH /api/v1/organizations/{id}/courses/{course_id}", loggedIn, s.api(s.apiCourseUpdate)},
		{"DELETE /api/v1/organizations/{id}/courses/{course_id}", loggedIn, s.api(s.apiCourseDelete)},
		{"GET /api/v1/organizations/{id}/courses/{course_id}/contents", loggedIn, s.api(s.apiContentList)},
		{"POST /api/v1/organizations/{id}/courses/{course_id}/contents", loggedIn, s.api(s.apiContentCreate)},
		{"POST /api/v1/organizations/{id}/courses/{course_id}/contents/reorder", loggedIn, s.api(s.apiContentReorder)},
		{"POST /api/v1/organizations/{id}/courses/{course_id}/imports", loggedIn, s.api(s.apiImportCreate)},
		{"GET /api/v1/organizations/{id}/courses/{course_id}/imports/{import_id}", loggedIn, s.api(s.apiImportGet)},
		{"GET /api/v1/organizations/{id}/courses/{course_id}/contents/{content_id}", loggedIn, s.api(s.apiContentGet)},
		{"PATCH /api/v1/organizations/{id}/courses/{course_id}/contents/{content_id}", loggedIn, s.api(s.apiContentUpdate)},
		{"DELETE /api/v1/organizations/{id}/courses/{course_id}/contents/{content_id}", loggedIn, s.api(s.apiContentDelete)},

		{"/", anyone, s.notFound},
	}
}

// guard enforces a route's audience before its handler runs.
func (s *Server) guard(rt route) http.Handler {
	if rt.audience == anyone {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			noteRoute(r)
			rt.handler(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noteRoute(r)
		user := currentUser(r.Context())
		if user == nil {
			s.requireLogin(w, r)
			return
		}
		if rt.audience.platform != "" && !access.AllowedOnPlatform(user, rt.audience.platform) {
			s.forbidden(w, r)
			return
		}
		rt.handler(w, r)
	})
}
