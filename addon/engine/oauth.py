"""OAuth 2.0, OpenID Connect and SAML logins, followed step by step for each client, as traffic shows them.

An authorization request — a request or a redirect's Location carrying `response_type` and `client_id`, or PAR's
`request_uri` — opens a flow holding what later steps are checked against: the authorization server's origin and
endpoint, `client_id`, `redirect_uri`, `state`, `nonce`, the response type and mode, the PKCE challenge. The
authorization response — a redirect from the server's origin carrying `code`, a token or `error` (in the query or
the fragment), or a `form_post` page that submits them — answers it, matched by `state` when there is one, else by
the redirect URI and then by order. The callback's page (its Referrer-Policy), the requests the client sends next
(their Referer), and a token request (`grant_type=authorization_code` with the flow's code) and its answer extend
the flow. Servers' metadata (`/.well-known/openid-configuration`, `/.well-known/oauth-authorization-server`) seen
through the proxy says which issuer a server is and whether it promises `iss`. SAML: an SP's authentication
request in a Location (`SAMLRequest`) opens a flow that the assertion consumer service's `SAMLResponse` answers.

Bounded: flows expire (`timeout`), are few per client and in all, and keep values (states, codes, tokens, nonces)
as keyed fingerprints only, texts cut; servers' metadata is kept for a bounded number of issuers. The PKCE
challenge is kept as it is: it was sent in the clear, a hash of the secret verifier.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from html.parser import HTMLParser

from . import params, urls
from .model import Request, Response, header
from .secrets import SecretPolicy, form_pairs

RESPONSE_VALUES = ("code", "access_token", "id_token", "error")  # one of them makes an authorization response
LEAKABLE = ("code", "state", "access_token", "id_token", "refresh_token")  # values a Referer must not carry
METADATA_PATHS = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")
MAX_FLOWS = 1000
MAX_FLOWS_PER_CLIENT = 32
MAX_ISSUERS = 64
MAX_TEXT = 512  # of a client_id, an endpoint or an issuer kept
MAX_PAGE = 256 * 1024  # of an HTML page or a JSON answer read for a form_post, a Referrer-Policy or metadata


def _cut(text: str | None) -> str | None:
    return text[:MAX_TEXT] if text is not None else None


@dataclass(slots=True)
class Metadata:
    issuer: str
    iss_supported: bool  # authorization_response_iss_parameter_supported


@dataclass(slots=True)
class Flow:
    """One login: what its authorization request asked for, and what its later steps showed."""

    id: str  # the flow id of the exchange its authorization request was first seen in
    client: str
    kind: str  # oauth | saml
    server: str  # the authorization server's (or identity provider's) origin
    endpoint: str  # its authorization endpoint: origin and path
    time: float
    client_id: str | None = None
    redirect_uri: urls.Url | None = None  # as requested; None: the registered default
    state: str | None = None  # fingerprint
    response_type: str = ""
    response_mode: str | None = None
    challenge: str | None = None
    challenge_method: str | None = None
    answered: bool = False
    callback: str | None = None  # the origin the authorization response went to
    values: dict[str, str] = field(default_factory=dict)  # the response's code, state, tokens: name -> fingerprint
    referrer_policy: str | None = None  # of the callback's page: header, else <meta name=referrer>
    leaked: set[str] = field(default_factory=set)  # the names a Referer already carried (reported once)

    def issuer(self, metadata: dict[str, Metadata]) -> Metadata | None:
        return metadata.get(self.endpoint)


@dataclass(slots=True)
class Step:
    """A step of a flow that rules judge (stage `flow`): which one, and what it showed."""

    name: str  # authorization-request | authorization-response | token-response | referer
    flow: Flow
    request: Request
    response: Response
    state_reused: bool = False
    redirect_uri_mismatch: bool = False
    state: str | None = None  # matched | missing | changed | not-requested
    iss: str | None = None  # present | missing-promised | missing | mismatched | unknown-issuer
    response_mode_ignored: bool = False
    referer_values: list[str] = field(default_factory=list)  # `code (hmac:…)`
    tokens_issued: bool = False
    pkce: str | None = None  # matched | mismatched | downgrade | missing-verifier | absent


class Flows:
    """The flows of every client, and what servers' metadata said. `request` and `completed` see every exchange;
    `location` a redirect's Location; each returns the steps rules judge."""

    def __init__(self, policy: SecretPolicy, timeout: float = 600.0) -> None:
        self.policy = policy
        self.timeout = timeout
        self._flows: OrderedDict[str, Flow] = OrderedDict()  # by id, oldest first
        self._clients: dict[str, dict[str, Flow]] = {}  # each client's flows, by id, oldest first
        self._requests: dict[str, Flow] = {}  # flow id of a request that carried an authorization request -> its flow
        self._metadata: OrderedDict[str, Metadata] = OrderedDict()  # by authorization endpoint
        self._states: dict[tuple[str, str], str] = {}  # (client, state fingerprint) -> id of the flow that sent it
        self._tokens: dict[str, tuple[Flow, str | None]] = {}  # token request flow id -> (its flow, its verifier)

    @property
    def open(self) -> int:
        return len(self._flows)

    # --- seeing the traffic -------------------------------------------------------------------------------------

    def request(self, request: Request, url: urls.Url) -> None:
        """A request: an authorization request opens (or continues) a flow; a token request is remembered for
        its answer."""
        self._expire(request.time)
        if "client_id" in url.query:  # the cheap test first: most requests are none of this
            query = dict(params.pairs(url.query))
            if _is_authorization_request(query):
                flow = self._open(request.flow_id, request.client, url, query, request.time)
                self._requests[request.flow_id] = flow
                while len(self._requests) > MAX_FLOWS:
                    self._requests.pop(next(iter(self._requests)))
        elif request.method == "POST" and (token := self._token_request_of(request)) is not None:
            self._tokens[request.flow_id] = token
            while len(self._tokens) > MAX_FLOWS:
                self._tokens.pop(next(iter(self._tokens)))

    def location(self, request: Request, target: urls.Url, redirect_flow: str) -> str | None:
        """A redirect's Location: an authorization request opens a flow (the redirect's); the id of the flow the
        Location belongs to, if any."""
        self._expire(request.time)
        query = dict(params.pairs(target.query))
        if _is_authorization_request(query):
            return self._open(redirect_flow, request.client, target, query, request.time).id
        if "SAMLRequest" in query:
            flow = Flow(redirect_flow, request.client, "saml", target.origin, _endpoint(target), request.time)
            return self._add(flow).id
        flow = self._answered_by(request, target, self._response_values(target))
        return flow.id if flow else None

    def is_response(self, request: Request, target: urls.Url) -> bool:
        """The Location is the authorization response of a login this client started."""
        return self._answered_by(request, target, self._response_values(target)) is not None

    def completed(self, request: Request, response: Response, url: urls.Url, target: urls.Url | None) -> list[Step]:
        """An exchange whose response is whole (its body read, where one matters): the steps it is."""
        steps: list[Step] = []
        client = request.client
        if url.path in METADATA_PATHS and response.status == 200:
            self._learn_metadata(url, response)
        if (opened := self._requests.pop(request.flow_id, None)) is not None:
            steps.append(self._authorization_request_step(opened, request, response))
        values = self._response_values(target) if target is not None else {}
        flow = self._answered_by(request, target, values) if values else None
        if flow is None and response.status == 200:
            form = self._form_post(request, response)
            if form is not None:
                target, values, flow = form
        if flow is not None and not flow.answered:
            steps.append(self._authorization_response_step(flow, request, response, target, values))
        if (callback := self._callback_of(client, url)) is not None and callback is not flow:
            callback.referrer_policy = _referrer_policy(response)
        if (token := self._tokens.pop(request.flow_id, None)) is not None:
            steps.append(self._token_step(*token, request, response))
        steps += self._referer_steps(request, response, url)
        return steps

    # --- the steps ----------------------------------------------------------------------------------------------

    def _authorization_request_step(self, flow: Flow, request: Request, response: Response) -> Step:
        step = Step("authorization-request", flow, request, response)
        if flow.state is not None:
            first = self._states.setdefault((flow.client, flow.state), flow.id)
            step.state_reused = first != flow.id
        return step

    def _authorization_response_step(
        self, flow: Flow, request: Request, response: Response, target: urls.Url, values: dict[str, str]
    ) -> Step:
        flow.answered = True
        flow.callback = target.origin
        flow.values = {name: self.policy.fingerprint(values[name]) for name in LEAKABLE if values.get(name)}
        step = Step("authorization-response", flow, request, response)
        step.redirect_uri_mismatch = self._mismatch(flow, target)
        state = values.get("state")
        if flow.state is None:
            step.state = "not-requested"
        elif state is None:
            step.state = "missing"
        else:
            step.state = "matched" if self.policy.fingerprint(state) == flow.state else "changed"
        metadata = flow.issuer(self._metadata)
        iss = values.get("iss")
        if iss is None:
            step.iss = "missing-promised" if metadata is not None and metadata.iss_supported else "missing"
        elif metadata is None:
            step.iss = "unknown-issuer"
        else:
            step.iss = "present" if iss == metadata.issuer else "mismatched"
        in_query = any(name in values for name in RESPONSE_VALUES) and self._in_query(target)
        step.response_mode_ignored = flow.response_mode in ("form_post", "fragment") and in_query
        return step

    def _token_step(self, flow: Flow, verifier: str | None, request: Request, response: Response) -> Step:
        step = Step("token-response", flow, request, response)
        step.tokens_issued = response.status == 200 and bool(self._json_keys(response) & {"access_token", "id_token"})
        if flow.challenge is None:
            step.pkce = "downgrade" if verifier else "absent"
        elif verifier is None:
            step.pkce = "missing-verifier"
        else:
            step.pkce = "matched" if _challenge_of(verifier, flow.challenge_method) == flow.challenge else "mismatched"
        return step

    def _referer_steps(self, request: Request, response: Response, url: urls.Url) -> list[Step]:
        referer = header(request.headers, "referer")
        if not referer or request.client not in self._clients:
            return []
        carried = {}
        for start, end in filter(None, params.query_and_fragment(referer)):
            for name, value_start, value_end in params.parameters(referer, start, end):
                carried[self.policy.fingerprint(params.read(referer[value_start:value_end]))] = name
        steps = []
        for flow in self._clients.get(request.client, {}).values():
            if not flow.answered or url.origin == flow.callback:
                continue
            found = sorted(f"{name} ({fp[5:]})" for name, fp in flow.values.items() if fp in carried)
            if found and not flow.leaked.issuperset(found):
                flow.leaked.update(found)
                step = Step("referer", flow, request, response)
                step.referer_values = found
                steps.append(step)
        return steps

    # --- matching -----------------------------------------------------------------------------------------------

    def _open(self, flow_id: str, client: str, url: urls.Url, query: dict[str, str], time: float) -> Flow:
        state = self.policy.fingerprint(query["state"]) if query.get("state") else None
        endpoint = _endpoint(url)
        client_id = _cut(query.get("client_id"))
        for flow in reversed(self._clients.get(client, {}).values()):  # the redirect's follow-up: the same flow
            if flow.endpoint == endpoint and not flow.answered and flow.state == state and flow.client_id == client_id:
                return flow
        redirect_uri = urls.parse(query["redirect_uri"]) if query.get("redirect_uri") else None
        flow = Flow(
            flow_id, client, "oauth", url.origin, endpoint, time, client_id=_cut(query.get("client_id")),
            redirect_uri=redirect_uri.origin_only() if redirect_uri and len(redirect_uri.href) > MAX_TEXT
            else redirect_uri, state=state, response_type=_cut(query.get("response_type", "")) or "",
            response_mode=_cut(query.get("response_mode")), challenge=_cut(query.get("code_challenge")),
            challenge_method=_cut(query.get("code_challenge_method")),
        )  # fmt: skip
        return self._add(flow)

    def _add(self, flow: Flow) -> Flow:
        self._flows[flow.id] = flow
        mine = self._clients.setdefault(flow.client, {})
        mine[flow.id] = flow
        if len(mine) > MAX_FLOWS_PER_CLIENT:
            self._forget(self._flows[next(iter(mine))])
        while len(self._flows) > MAX_FLOWS:
            self._forget(next(iter(self._flows.values())))
        return flow

    def _forget(self, flow: Flow) -> None:
        del self._flows[flow.id]
        mine = self._clients[flow.client]
        del mine[flow.id]
        if not mine:
            del self._clients[flow.client]

    def _expire(self, now: float) -> None:
        while self._flows and next(iter(self._flows.values())).time < now - self.timeout:
            self._forget(next(iter(self._flows.values())))
        if len(self._states) > MAX_FLOWS * 4:  # states remembered for reuse outlive their flows, within bounds
            for key in list(self._states)[: len(self._states) - MAX_FLOWS * 2]:
                del self._states[key]

    def _response_values(self, target: urls.Url) -> dict[str, str]:
        """The parameters of an authorization response in a Location: its query and fragment, when one of them
        carries a code, a token or an error (and no authorization request: that is the other way)."""
        query, fragment = dict(params.pairs(target.query)), dict(params.pairs(target.fragment))
        if "response_type" in query:
            return {}
        values = {**fragment, **query}
        return values if any(name in values for name in RESPONSE_VALUES) else {}

    def _in_query(self, target: urls.Url) -> bool:
        return any(name in RESPONSE_VALUES for name, _ in params.pairs(target.query))

    def _answered_by(self, request: Request, target: urls.Url | None, values: dict[str, str]) -> Flow | None:
        """The open flow of this client that an authorization response from `request`'s origin answers: by state,
        else (no state, or another) by redirect URI, else the oldest."""
        if target is None or not values:
            return None
        origin = urls.parse(request.url)
        candidates = [
            f for f in self._clients.get(request.client, {}).values()
            if f.kind == "oauth" and not f.answered and origin is not None and f.server == origin.origin
        ]  # fmt: skip
        if not candidates:
            return None
        if values.get("state"):
            state = self.policy.fingerprint(values["state"])
            if (matched := next((f for f in candidates if f.state == state), None)) is not None:
                return matched  # else a state the server changed: the flow it answers is found as without one
        same_uri = [f for f in candidates if f.redirect_uri and _same_endpoint(f.redirect_uri, target)]
        return (same_uri or candidates)[0]

    @staticmethod
    def _mismatch(flow: Flow, target: urls.Url) -> bool:
        """Exact matching (RFC 9700 §2.1): scheme, host, port and path as requested; none requested is no mismatch."""
        return flow.redirect_uri is not None and not _same_endpoint(flow.redirect_uri, target)

    def _callback_of(self, client: str, url: urls.Url) -> Flow | None:
        """The answered flow whose callback this exchange is: the first at the origin its response went to (its
        page's Referrer-Policy is what the page's requests follow)."""
        for flow in reversed(self._clients.get(client, {}).values()):
            if flow.answered and flow.callback == url.origin and flow.referrer_policy is None:
                return flow
        return None

    def _token_request_of(self, request: Request) -> tuple[Flow, str | None] | None:
        if request.client not in self._clients:
            return None
        form = dict(form_pairs(request, self.policy))
        if form.get("grant_type") != "authorization_code" or not form.get("code"):
            return None
        code = self.policy.fingerprint(form["code"])
        for flow in reversed(self._clients.get(request.client, {}).values()):
            if flow.values.get("code") == code:
                return flow, form.get("code_verifier")
        return None

    def _learn_metadata(self, url: urls.Url, response: Response) -> None:
        document = self._json(response)
        issuer, endpoint = document.get("issuer"), document.get("authorization_endpoint")
        if not isinstance(issuer, str) or not isinstance(endpoint, str):
            return
        parsed = urls.parse(endpoint)
        if parsed is None:
            return
        supported = document.get("authorization_response_iss_parameter_supported") is True
        self._metadata[_endpoint(parsed)] = Metadata(_cut(issuer), supported)
        while len(self._metadata) > MAX_ISSUERS:
            self._metadata.popitem(last=False)

    def _form_post(self, request: Request, response: Response) -> tuple[urls.Url, dict[str, str], Flow] | None:
        """A page from an authorization server that submits an authorization response (response_mode=form_post)."""
        if not (header(response.headers, "content-type") or "").lower().startswith("text/html"):
            return None
        origin = urls.parse(request.url)
        mine = self._clients.get(request.client, {}).values()
        if origin is None or not any(f.server == origin.origin and not f.answered for f in mine):
            return None
        page = _Page()
        page.feed_bounded(response.body.read())
        if page.action is None or not any(name in page.fields for name in RESPONSE_VALUES):
            return None
        target = urls.resolve(request.url, page.action)
        if target is None:
            return None
        flow = self._answered_by(request, target, page.fields)
        return (target, page.fields, flow) if flow is not None else None

    def _json(self, response: Response) -> dict:
        data = response.body.read()
        if not data or len(data) > MAX_PAGE:
            return {}
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            return {}
        return document if isinstance(document, dict) else {}

    def _json_keys(self, response: Response) -> set[str]:
        return set(self._json(response))


def _is_authorization_request(query: dict[str, str]) -> bool:
    return "client_id" in query and ("response_type" in query or "request_uri" in query)


def _endpoint(url: urls.Url) -> str:
    return _cut(url.origin + url.path)


def _same_endpoint(a: urls.Url, b: urls.Url) -> bool:
    return a.scheme == b.scheme and a.host == b.host and a.port == b.port and a.path == b.path


def _challenge_of(verifier: str, method: str | None) -> str:
    """RFC 7636 §4.2: S256 is BASE64URL(SHA256(ASCII(verifier))), unpadded; plain is the verifier."""
    if (method or "plain").upper() != "S256":
        return verifier
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _referrer_policy(response: Response) -> str:
    """The page's Referrer-Policy: its header, else its <meta name=referrer>, else `default`."""
    if (value := header(response.headers, "referrer-policy")) is not None:
        return _cut(value.strip()) or "default"
    if (header(response.headers, "content-type") or "").lower().startswith("text/html"):
        page = _Page()
        page.feed_bounded(response.body.read())
        if page.referrer is not None:
            return _cut(page.referrer) or "default"
    return "default"


class _Page(HTMLParser):
    """What an HTML page says for a flow: the first form's action and fields, and a <meta name=referrer>. The
    standard library's parser: linear, and it never raises on broken markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.referrer: str | None = None
        self._forms = 0

    def feed_bounded(self, data: bytes | None) -> None:
        if data:
            self.feed(data[:MAX_PAGE].decode("utf-8", "replace"))
            self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._forms += 1
            if self._forms == 1 and attributes.get("method", "get").lower() == "post":
                self.action = attributes.get("action", "")
        elif tag == "input" and self._forms == 1 and self.action is not None and attributes.get("name"):
            self.fields.setdefault(attributes["name"], attributes.get("value", ""))
        elif tag == "meta" and attributes.get("name", "").lower() == "referrer":
            self.referrer = attributes.get("content", "")
