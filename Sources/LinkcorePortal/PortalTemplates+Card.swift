/// The card login's and the account's pages, and the site's only script. Same rules as
/// PortalTemplates.swift: compiled in, `{{ }}` only, every page extends `layout`.
extension PortalTemplates {
    /// The card step, shared by /login and /open. card.js reads the data attributes (no inline
    /// script), asks the helper to sign each step, fills the hidden fields and submits the form.
    static let cardStep = """
    <div id="card" data-helper="{{helper}}" data-steps="{{steps}}" data-challenge="{{challenge_hex}}" data-consent="{{consent_hex}}"
     data-msg-waiting="{{t.card_waiting}}" data-msg-consent="{{t.card_waiting_consent}}" data-msg-sending="{{t.card_sending}}"
     data-msg-helper="{{t.card_no_helper}}" data-msg-refused="{{t.card_refused}}">
    <form id="card-form" method="post" action="{{action}}">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <input type="hidden" name="challenge_hex" value="{{challenge_hex}}">
    <input type="hidden" name="certificate_pem" id="certificate_pem" value="">
    <input type="hidden" name="signature_hex" id="signature_hex" value="">
    {{#consent_hex}}
    <input type="hidden" name="consent_hex" value="{{consent_hex}}">
    <input type="hidden" name="consent_certificate_pem" id="consent_certificate_pem" value="">
    <input type="hidden" name="consent_signature_hex" id="consent_signature_hex" value="">
    {{/consent_hex}}
    </form>
    <p><button type="button" id="card-start">{{t.login_button}}</button></p>
    <p id="card-status" role="status" aria-live="polite"></p>
    <noscript><p>{{t.card_noscript}}</p></noscript>
    </div>
    <script src="/static/card.js"></script>
    """

    static let cardLogin = """
    {{<layout}}{{$content}}
    <h1>{{t.login_title}}</h1>
    <p>{{t.login_lead}}</p>
    {{>card_step}}
    <h2>{{t.open_heading}}</h2>
    <p>{{t.open_hint}}</p>
    <p><a href="/open">{{t.open_link}}</a></p>
    {{/content}}{{/layout}}
    """

    static let cardOpen = """
    {{<layout}}{{$content}}
    <h1>{{t.open_title}}</h1>
    <p>{{t.open_lead}}</p>
    <ol>
    <li>{{t.open_step_consent}}</li>
    <li>{{t.open_step_login}}</li>
    </ol>
    {{>card_step}}
    {{/content}}{{/layout}}
    """

    static let account = """
    {{<layout}}{{$content}}
    <h1>{{t.account_title}}</h1>
    <div class="scroll"><table id="account-events">
    <caption>{{t.account_events}}</caption>
    <thead><tr><th scope="col">{{t.account_when}}</th><th scope="col">{{t.account_what}}</th><th scope="col">{{t.account_detail}}</th></tr></thead>
    <tbody>
    {{#events}}<tr><td>{{when}}</td><td>{{what}}</td><td>{{detail}}</td></tr>
    {{/events}}
    </tbody>
    </table></div>
    <h2>{{t.suspend_heading}}</h2>
    <p>{{t.suspend_lead}}</p>
    <form method="post" action="/account/suspend">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <button type="submit" id="suspend">{{t.suspend_button}}</button>
    </form>
    <h2>{{t.close_heading}}</h2>
    <p>{{t.close_lead}}</p>
    <p><a href="/account/close" id="close-link">{{t.close_link}}</a></p>
    <p><a href="/home">{{t.home_link}}</a></p>
    {{>logout}}
    {{/content}}{{/layout}}
    """

    static let accountClose = """
    {{<layout}}{{$content}}
    <h1>{{t.close_title}}</h1>
    <p>{{t.close_confirm_lead}}</p>
    {{#unconfirmed}}<p class="error" role="alert">{{t.close_unconfirmed}}</p>{{/unconfirmed}}
    <form method="post" action="/account/close">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <p><label><input type="checkbox" name="confirm" value="yes" id="confirm"> {{t.close_confirm_box}}</label></p>
    <button type="submit" id="close">{{t.close_button}}</button>
    </form>
    <p><a href="/account">{{t.close_cancel}}</a></p>
    {{/content}}{{/layout}}
    """

    static let cardTemplates: [(String, String)] = [
        ("card_step", cardStep), ("card_login", cardLogin), ("card_open", cardOpen), ("account", account), ("account_close", accountClose),
    ]

    /// The only script of the site, served as /static/card.js to the card pages alone (their CSP
    /// allows 'self' scripts and the helper's origin; no inline script anywhere). Texts come from
    /// the page's data attributes, so they follow the page's language and are escaped by mustache.
    static let cardScript = """
    // My Portal: the card step of /login and /open, through the resident's linkcore-card helper.
    // The PIN is typed only in the helper's own window; this page sees the signatures alone.
    (function () {
      "use strict";
      var root = document.getElementById("card");
      if (!root) { return; }
      var helper = root.getAttribute("data-helper");
      var status = document.getElementById("card-status");
      var start = document.getElementById("card-start");
      function say(name, extra) { status.textContent = root.getAttribute("data-msg-" + name) + (extra ? " (" + extra + ")" : ""); }
      function field(id, value) { document.getElementById(id).value = value; }
      function wait(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }
      async function sign(hex) {
        var created = await fetch(helper + "/requests", {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ challenge_hex: hex })
        });
        if (!created.ok) { throw new Error("helper " + created.status); }
        var request = await created.json();
        // A window of its own per request (not a reused name): one step's window never becomes the next's.
        window.open(request.pin_url, "_blank", "popup,width=520,height=600");
        for (;;) {
          var answer = await (await fetch(helper + "/requests/" + encodeURIComponent(request.id), { cache: "no-store" })).json();
          if (answer.state === "signed") { return answer; }
          if (answer.state !== "pending") { throw new Error(answer.state + (answer.reason ? ": " + answer.reason : "")); }
          await wait(400);
        }
      }
      start.addEventListener("click", async function () {
        start.disabled = true;
        var steps = (root.getAttribute("data-steps") || "login").split(" ");
        try {
          for (var i = 0; i < steps.length; i++) {
            if (steps[i] === "consent") {
              say("consent");
              var consent = await sign(root.getAttribute("data-consent"));
              field("consent_certificate_pem", consent.certificate_pem);
              field("consent_signature_hex", consent.signature_hex);
            } else {
              say("waiting");
              var login = await sign(root.getAttribute("data-challenge"));
              field("certificate_pem", login.certificate_pem);
              field("signature_hex", login.signature_hex);
            }
          }
          say("sending");
          document.getElementById("card-form").submit();
        } catch (error) {
          start.disabled = false;
          say(error instanceof TypeError ? "helper" : "refused", String(error.message || error));
        }
      });
    })();

    """
}
