/// The OIDC provider's consent page (issue 15, item 6): it names the service and exactly what it
/// receives. Every value is `{{ }}`: the service's name comes from the operator's configuration,
/// the rest from the relying party's request.
extension PortalTemplates {
    static let oidcConsent = """
    {{<layout}}{{$content}}
    <h1>{{t.oidc_consent_title}}</h1>
    <p class="lead"><strong class="service">{{service}}</strong> {{t.oidc_consent_asks}}</p>
    <h2>{{t.oidc_receives_heading}}</h2>
    <ul>
    {{#is_org}}<li>{{t.oidc_receives_link_code}}（{{org_code}}）</li>
    <li>{{t.oidc_link_logged}}</li>{{/is_org}}
    {{^is_org}}<li>{{t.oidc_receives_opaque}}</li>{{/is_org}}
    <li>{{t.oidc_receives_time}}</li>
    </ul>
    <p>{{t.oidc_not_given}}</p>
    <p>{{t.oidc_goes_to}} <span class="origin">{{redirect_origin}}</span></p>
    <form method="post" action="/oidc/authorize">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    {{#pending}}<input type="hidden" name="pending" value="1">{{/pending}}
    {{^pending}}<input type="hidden" name="client_id" value="{{client_id}}">
    <input type="hidden" name="redirect_uri" value="{{redirect_uri}}">
    <input type="hidden" name="scope" value="{{scope}}">
    <input type="hidden" name="state" value="{{state}}">
    <input type="hidden" name="nonce" value="{{nonce}}">
    <input type="hidden" name="code_challenge" value="{{code_challenge}}">{{/pending}}
    <p><button type="submit" name="decision" value="allow" id="allow">{{t.oidc_allow}}</button>
    <button type="submit" name="decision" value="deny" id="deny" class="secondary">{{t.oidc_deny}}</button></p>
    </form>
    {{/content}}{{/layout}}
    """

    /// A browser that came from the relying party did not send the SameSite=Strict session
    /// cookie: this page reloads the same URL (same-site now), without script.
    static let oidcContinue = """
    <!DOCTYPE html>
    <html lang="{{lang}}">
    <head>
    <meta charset="utf-8">
    <meta http-equiv="refresh" content="0">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{{title}} | {{t.site}}</title>
    <link rel="stylesheet" href="/static/portal.css">
    </head>
    <body>
    <main id="main">
    <h1>{{title}}</h1>
    <p><a class="button" href="{{self_href}}">{{t.oidc_continue_link}}</a></p>
    </main>
    </body>
    </html>

    """

    static let oidcTemplates = [("oidc_consent", oidcConsent), ("oidc_continue", oidcContinue)]
}
