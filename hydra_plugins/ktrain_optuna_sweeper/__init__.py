"""ktrain's Hydra sweeper: an Optuna search (ask/tell) with a persistent study and pruning."""
