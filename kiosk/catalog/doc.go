// Package catalog holds what a resident picks from at the kiosk instead of
// typing: the report categories with their quick phrases and default
// urgency (Catalog), and the community's buildings, units and doors (Site).
//
// Both are configuration, loaded from JSON files (Load, LoadSite); Default
// is a built-in catalogue for a Chinese residential community. Categories
// follow Open311's service list (id = service_code, with a group name and
// pick-lists instead of free text); each name and phrase is given in Chinese
// first, with English.
package catalog
