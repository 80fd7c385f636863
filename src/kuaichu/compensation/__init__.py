"""Who pays what under compulsory insurance (交强险): each insurer's share of the property
loss within the regulation's limits, worked out from the responsibility and the insurer's
定损 amounts. Pure computation (rules.py); the claims package stores the amounts and shows it."""
