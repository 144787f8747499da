import Mustache

/// The pages' mustache templates, compiled into the binary rather than shipped as resource files:
/// the portal is one file to install (no bundle directory beside /usr/local/bin to keep in step
/// with it), a missing or broken template fails the build's tests instead of a resident's page,
/// and there is no template directory for an attacker who can write files to edit.
///
/// Every value is written with `{{ }}` (HTML-escaped). `{{{ }}}` appears nowhere: organisation-
/// supplied texts (names, notices) must never reach a page unescaped. Pages extend `layout`
/// (mustache template inheritance), so no page assembles HTML from strings.
enum PortalTemplates {
    static let layout = """
    <!DOCTYPE html>
    <html lang="{{lang}}">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{{title}} | {{t.site}}</title>
    <link rel="stylesheet" href="/static/portal.css">
    </head>
    <body>
    <a class="skip" href="#main">{{t.skip}}</a>
    <header>
    <p class="site"><a href="/">{{t.site}}</a></p>
    <nav><a href="{{switch_href}}" hreflang="{{other_lang}}" lang="{{other_lang}}">{{t.switch_label}}</a></nav>
    </header>
    <main id="main">
    {{$content}}{{/content}}
    </main>
    </body>
    </html>

    """

    static let landing = """
    {{<layout}}{{$content}}
    <h1>{{t.landing_title}}</h1>
    <p>{{t.landing_lead}}</p>
    <h2>{{t.landing_items}}</h2>
    <ul>
    <li>{{t.item_log}}</li>
    <li>{{t.item_notices}}</li>
    <li>{{t.item_account}}</li>
    </ul>
    {{#logged_in}}<p><a class="button" href="/home">{{t.home_title}}</a></p>{{/logged_in}}
    {{^logged_in}}<p><a class="button" href="/login">{{t.login_link}}</a></p>{{/logged_in}}
    {{/content}}{{/layout}}
    """

    static let login = """
    {{<layout}}{{$content}}
    <h1>{{t.login_title}}</h1>
    <p>{{t.login_lead}}</p>
    <form method="post" action="/login">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <button type="submit">{{t.login_button}}</button>
    </form>
    {{/content}}{{/layout}}
    """

    static let home = """
    {{<layout}}{{$content}}
    <h1>{{t.home_title}}</h1>
    {{>resident_nav}}
    {{>logout}}
    {{/content}}{{/layout}}
    """

    static let logout = """
    <form method="post" action="/logout">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <button type="submit">{{t.logout_button}}</button>
    </form>
    """

    /// Every error and status page: what happened, then what to do next (a link).
    static let message = """
    {{<layout}}{{$content}}
    <h1>{{title}}</h1>
    <p>{{lead}}</p>
    <p><a class="button" href="{{next_href}}">{{next_label}}</a></p>
    {{/content}}{{/layout}}
    """

    static let stylesheet = """
    :root { color-scheme: light; --ink: #1a1a1a; --accent: #0b4f9c; --paper: #ffffff; }
    * { box-sizing: border-box; }
    body { margin: 0; font-family: "Noto Sans JP", "Hiragino Sans", sans-serif; color: var(--ink); background: var(--paper);
           line-height: 1.7; font-size: 1rem; }
    header { display: flex; justify-content: space-between; align-items: center; padding: 0.75rem 1rem; border-bottom: 2px solid var(--accent); }
    header .site { margin: 0; font-weight: bold; }
    main { max-width: 40rem; margin: 0 auto; padding: 1rem; }
    a { color: var(--accent); }
    /* Focus: #b35900 is 4.8:1 on white (WCAG 1.4.11 asks 3:1 of a focus ring; the earlier #f0a000 was
       2.2:1); every focusable kind, not only links and buttons. */
    a:focus, button:focus, input:focus, select:focus, textarea:focus, summary:focus { outline: 3px solid #b35900; outline-offset: 2px; }
    caption { text-align: left; font-weight: bold; padding: 0.3rem 0; }
    .skip { position: absolute; left: -10000px; }
    .skip:focus { left: 1rem; top: 1rem; background: var(--paper); padding: 0.5rem; }
    .button, button { display: inline-block; padding: 0.6rem 1.2rem; font-size: 1rem; border-radius: 0.3rem;
                      background: var(--accent); color: #ffffff; border: 0; text-decoration: none; cursor: pointer; }

    """

    static let fullStylesheet = stylesheet + residentStylesheet

    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in [("layout", layout), ("landing", landing), ("login", login), ("home", home), ("logout", logout),
                             ("message", message)] + residentTemplates + cardTemplates + oidcTemplates {
            try library.register(text, named: name)
        }
        return library
    }
}
