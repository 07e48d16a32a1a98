"""The review page: a person reads every response with the judge's reasons, overrules verdicts and writes notes.

Step 7 asks for a qualitative review before anyone acts on a pass rate, and the decision document's qualitative
notes and failure patterns are a person's words. This local web page is where that reading happens: the
decision with its interval against the thresholds, where the failures fall, every response with each criterion's
verdict and reasoning, a person's overrule of any verdict (stored as a `human:<name>` judge), and the notes that
go into notes.md and the re-rendered document. It is a shell like cli/ and server/: it reads and writes through
the core and holds no rule of its own.

- `server`: start and stop the page (uvicorn on 127.0.0.1, a fresh token in the URL);
- `app`: the routes and the guard every request passes (token, loopback Host, same-origin writes, CSP);
- `page`: what the page shows, read fresh from the study's files; `charts`: the server-rendered SVG;
- `text`: untrusted text made inert; `actions`: the writes, each one core call under the study lock.

starlette, uvicorn and jinja2 are imported only when a page starts, so the MCP server still starts fast.
"""
