package config

// Key layout of the dynamic configuration. Everything a snapshot is built
// from lives under ConfigPrefix, so one List or Watch of that prefix is a
// consistent view; OpenAPI documents, which may be megabytes, live apart
// under SpecPrefix and are read only when needed.
const (
	Root         = "/obhub/"
	ConfigPrefix = Root + "config/"

	BanksPrefix         = ConfigPrefix + "banks/"         // + bank id → catalog.Bank
	APIsPrefix          = ConfigPrefix + "apis/"          // + api id → catalog.API
	ProductsPrefix      = ConfigPrefix + "products/"      // + product id → catalog.Product
	PartnersPrefix      = ConfigPrefix + "partners/"      // + partner id → partners.Partner
	AppsPrefix          = ConfigPrefix + "apps/"          // + client id → partners.App (with secret hash)
	SubscriptionsPrefix = ConfigPrefix + "subscriptions/" // + client id + "/" + product id → partners.Subscription

	// SpecPrefix + api id → the API's canonical OpenAPI 3 document, gzipped JSON.
	SpecPrefix = Root + "specs/"
	// AdminTokenKey holds the SHA-256 (hex) of the bootstrap admin token.
	AdminTokenKey = Root + "admin/bootstrap-token"
)
