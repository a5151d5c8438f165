"""AI hints and a tutor, off by default: a course's instructors turn them on with any
OpenAI-compatible endpoint.

- :mod:`.settings`: a course's settings, checked (the endpoint within the admin's
  prefixes, the key's variable name, the prompt template and its placeholders);
- :mod:`.grounding`: what the model is told, as pure functions: the question's text
  (the student version), the learner's answer cells and the *visible* test results;
  hidden tests, their messages, the source notebook and the solution never;
- :mod:`.assistant`: `AIAssistant`, the grader's Configurable (the admin's limits) and
  the client that streams a chat completion;
- :mod:`.exchanges`: every exchange logged, the learner's daily budget, conversations.
"""
