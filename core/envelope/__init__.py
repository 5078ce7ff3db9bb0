"""The task envelope: the model a task is submitted as (its fields, formats and path rules) and the prompt a
worker is given from it."""
