"""Plan performance: KPIs of the published plan and the replay of its recommended purchase orders."""
