"""The custom scopes coursehub's permissions are made of: a contract, never renamed.

They are JupyterHub RBAC scopes (jupyterhub's ``examples/custom-scopes``), declared and
granted through Hub roles in :mod:`hub_config.roles`, which imports them from here. The
grader checks the scopes a request's token or cookie carries, never role or group names.
"""

#: use modules, questions, own submissions, progress, profile, leaderboard
LEARN_SCOPE = "custom:coursehub:learn"
#: author modules and questions; read every learner's submissions, progress, gradebook
AUTHOR_SCOPE = "custom:coursehub:author"
