"""The real client pieces both apps use (device identity and enrollment, staff sign-in, the catalog
loader, the sync runner) behind the presenters' ports. Nothing here imports Kivy."""
