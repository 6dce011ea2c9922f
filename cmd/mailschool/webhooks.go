package main

import (
	"github.com/mailschool/mailschool/internal/config"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/netguard"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// newDispatcher builds the webhook dispatcher: its requests reach only
// public addresses and the ranges MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS
// lists.
func newDispatcher(a *app, cfg config.Config, db *store.DB, mailer *mail.Service) *webhooks.Dispatcher {
	return webhooks.NewDispatcher(db, webhooks.Config{
		Guard:   netguard.New(netguard.Options{Allowed: cfg.WebhookAllowedNetworks}),
		Mail:    mailer,
		BaseURL: cfg.BaseURL,
		Logger:  a.logger.With("component", "webhooks"),
	})
}
