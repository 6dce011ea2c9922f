package orgs

import "strings"

// eventLabels are the audit log's words for each event kind. Every kind
// has one (a test checks), so the log never shows an identifier.
var eventLabels = map[EventKind]string{
	OrganizationCreated:     "Organization created",
	OrganizationUpdated:     "Settings changed",
	OrganizationDeleted:     "Organization deleted",
	OrganizationSuspended:   "Organization suspended",
	OrganizationResumed:     "Organization resumed",
	OrganizationImported:    "Organization imported",
	MemberAdded:             "Member added",
	MemberRemoved:           "Member removed",
	MemberLeft:              "Member left",
	AccountDeleted:          "Member deleted their account",
	RoleChanged:             "Role changed",
	OwnershipTransferred:    "Ownership transferred",
	OwnershipOffered:        "Ownership offered",
	OwnershipOfferWithdrawn: "Ownership offer withdrawn",
	OwnershipOfferDeclined:  "Ownership offer declined",
	InvitationCreated:       "Invitation sent",
	InvitationRenewed:       "Invitation renewed",
	InvitationResent:        "Invitation resent",
	InvitationRevoked:       "Invitation revoked",
	InvitationAccepted:      "Invitation accepted",
	APIKeyCreated:           "API key created",
	APIKeyRevoked:           "API key revoked",
	APIKeyRevokedUse:        "Revoked API key used",
	CertificateRevoked:      "Certificate revoked",
	LearnersImported:        "Learners imported",
	WebhookCreated:          "Webhook added",
	WebhookUpdated:          "Webhook changed",
	WebhookDeleted:          "Webhook removed",
	WebhookSecretRotated:    "Webhook secret rotated",
	AddressBlocked:          "Address blocked after a bounce",
	AddressUnblocked:        "Address unblocked",
}

// EventLabel is what people read for an audit entry's action. An action
// no longer known (written by another version) is shown as it is stored.
func EventLabel(action string) string {
	if label, ok := eventLabels[EventKind(action)]; ok {
		return label
	}
	return action
}

// fieldLabels name the values an audit entry records as before and
// after.
var fieldLabels = map[string]string{
	"name":                "Name",
	"description":         "Description",
	"slug":                "Public address",
	"logo":                "Logo",
	"role":                "Role",
	"owner":               "Owner",
	"offered_to":          "Offered to",
	"sender_name":         "Sender name",
	"reply_to":            "Reply-To address",
	"postal_address":      "Postal address",
	"address":             "From address",
	"reason":              "Reason",
	"deliveries_held":     "Course emails held",
	"deliveries_released": "Course emails released",
	"url":                 "URL",
	"events":              "Events",
	"enabled":             "Enabled",
	"bounce":              "Bounce",
	"diagnostic":          "Server's answer",
	"scope":               "Blocked for",
	"note":                "Note",
}

// FieldLabel is what people read for a value an audit entry changed.
func FieldLabel(field string) string {
	if label, ok := fieldLabels[field]; ok {
		return label
	}
	field = strings.ReplaceAll(field, "_", " ")
	if field == "" {
		return field
	}
	return strings.ToUpper(field[:1]) + field[1:]
}
