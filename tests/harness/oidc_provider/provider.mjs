// A real OpenID Provider for the tests: node provider.mjs PORT RELYING_PARTY_ORIGIN
// Issuer http://127.0.0.1:PORT; one confidential client `rp` with its callback at RELYING_PARTY_ORIGIN/cb.
// oidc-provider's development interactions (a login form, then consent) stand in for a real login page.
import Provider from "oidc-provider";

const [port, rp] = process.argv.slice(2);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: "rp",
    client_secret: "rp-s3cret-for-tests",
    redirect_uris: [`${rp}/cb`],
    grant_types: ["authorization_code"],
    response_types: ["code"],
  }],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
});
provider.listen(Number(port), "127.0.0.1", () => console.log("ready"));
