/// The logged-in pages of issue 15 items 3 and 4: the access log (情報提供等記録), the link
/// holders and the folder (お知らせ). Same rules as PortalTemplates: `{{ }}` only.
extension PortalTemplates {
    static let residentNav = """
    <nav class="resident" aria-label="{{t.nav_label}}"><ul>
    <li><a href="/log">{{t.log_title}}</a></li>
    <li><a href="/links">{{t.links_title}}</a></li>
    <li><a href="/folder">{{t.folder_title}}{{#unread}} ({{t.folder_unread_count}} {{unread}}){{/unread}}</a></li>
    <li><a href="/account">{{t.account_title}}</a></li>
    </ul></nav>
    """

    static let log = """
    {{<layout}}{{$content}}
    {{>resident_nav}}
    <h1>{{t.log_title}}</h1>
    <p>{{t.log_lead}}</p>
    <form method="get" action="/log" class="filters">
    <label for="from">{{t.log_from}}</label> <input id="from" name="from" type="date" value="{{from}}">
    <label for="to">{{t.log_to}}</label> <input id="to" name="to" type="date" value="{{to}}">
    <label for="org">{{t.log_org}}</label> <input id="org" name="org" value="{{org}}" autocomplete="off">
    <button type="submit">{{t.log_filter_button}}</button>
    </form>
    {{#filter_error}}<p class="error" role="alert">{{t.log_filter_error}}</p>{{/filter_error}}
    <p><a href="/log.csv{{query}}" download>{{t.log_csv}}</a></p>
    {{#has_entries}}
    <div class="scroll"><table id="access-log">
    <caption>{{t.log_caption}}</caption>
    <thead><tr><th scope="col">{{t.col_time}}</th><th scope="col">{{t.col_requester}}</th><th scope="col">{{t.col_provider}}</th>
    <th scope="col">{{t.col_purpose}}</th><th scope="col">{{t.col_info_type}}</th><th scope="col">{{t.col_outcome}}</th>
    <th scope="col">{{t.col_chain}}</th></tr></thead>
    <tbody>
    {{#entries}}<tr class="entry" data-position="{{position}}">
    <td class="time">{{time}}</td>
    <td class="requester">{{requester_name}} <span class="code">{{requester_org}}</span></td>
    <td class="provider">{{provider_name}} <span class="code">{{provider_org}}</span></td>
    <td class="purpose"><span class="code">{{bp_id}}</span> {{purpose}}</td>
    <td class="info-type">{{info_type}}</td>
    <td class="outcome">{{outcome}}</td>
    <td class="chain">{{t.col_position}} <span class="position">{{position}}</span><br>
    {{t.col_hash}} <code class="hash">{{hash}}</code><br>{{t.col_previous_hash}} <code class="previous-hash">{{previous_hash}}</code><br>
    {{t.col_digest}} <code class="digest">{{digest}}</code><br>{{t.col_leaf}} <code class="leaf">{{leaf}}</code><br>
    {{t.col_proof}} <code class="proof">{{proof}}</code></td>
    </tr>
    {{/entries}}
    </tbody></table></div>
    {{/has_entries}}
    {{^has_entries}}<p>{{t.log_empty}}</p>{{/has_entries}}
    {{#next_href}}<p><a class="button" rel="next" href="{{next_href}}">{{t.log_next}}</a></p>{{/next_href}}
    <h2>{{t.checkpoint_title}}</h2>
    {{#checkpoint}}
    <p>{{t.checkpoint_lead}}</p>
    <dl id="checkpoint">
    <dt>{{t.col_position}}</dt><dd id="cp-position">{{position}}</dd>
    <dt>{{t.col_hash}}</dt><dd><code id="cp-hash">{{hash}}</code></dd>
    <dt>{{t.checkpoint_time}}</dt><dd><span id="cp-time">{{time}}</span> (<span id="cp-at-ms">{{at_ms}}</span> ms)</dd>
    <dt>{{t.checkpoint_signature}}</dt><dd><code id="cp-signature">{{signature}}</code></dd>
    <dt>{{t.checkpoint_certificate}}</dt><dd><pre id="cp-certificate">{{certificate}}</pre></dd>
    </dl>
    {{/checkpoint}}
    {{^checkpoint}}<p>{{t.checkpoint_none}}</p>{{/checkpoint}}
    <h2>{{t.tree_head_title}}</h2>
    {{#tree_head}}
    <p>{{t.tree_head_lead}}</p>
    <dl id="tree-head">
    <dt>{{t.tree_head_size}}</dt><dd id="th-size">{{size}}</dd>
    <dt>{{t.tree_head_root}}</dt><dd><code id="th-root">{{root}}</code></dd>
    <dt>{{t.checkpoint_time}}</dt><dd><span id="th-time">{{time}}</span> (<span id="th-at-ms">{{at_ms}}</span> ms)</dd>
    <dt>{{t.checkpoint_signature}}</dt><dd><code id="th-signature">{{signature}}</code></dd>
    <dt>{{t.checkpoint_certificate}}</dt><dd><pre id="th-certificate">{{certificate}}</pre></dd>
    </dl>
    {{/tree_head}}
    {{^tree_head}}<p>{{t.tree_head_none}}</p>{{/tree_head}}
    {{/content}}{{/layout}}
    """

    static let links = """
    {{<layout}}{{$content}}
    {{>resident_nav}}
    <h1>{{t.links_title}}</h1>
    <p>{{t.links_lead}}</p>
    {{#has_holders}}
    <table id="link-holders"><caption>{{t.links_caption}}</caption>
    <thead><tr><th scope="col">{{t.col_org}}</th><th scope="col">{{t.col_linked_at}}</th></tr></thead>
    <tbody>
    {{#holders}}<tr class="holder"><td>{{name}} <span class="code">{{org}}</span></td><td>{{linked_at}}</td></tr>
    {{/holders}}
    </tbody></table>
    {{/has_holders}}
    {{^has_holders}}<p>{{t.links_empty}}</p>{{/has_holders}}
    {{/content}}{{/layout}}
    """

    static let folder = """
    {{<layout}}{{$content}}
    {{>resident_nav}}
    <h1>{{t.folder_title}}</h1>
    <p>{{t.folder_lead}}</p>
    {{#has_notices}}
    <ul class="folder" id="folder">
    {{#notices}}<li class="notice {{state}}">
    <span class="state">{{state_label}}</span>
    <a href="/folder/notice?id={{id}}">{{title}}</a>
    <span class="sender">{{sender}}</span> <span class="time">{{time}}</span>
    {{#expires}}<span class="expires">{{t.folder_expires}} {{expires}}</span>{{/expires}}
    </li>
    {{/notices}}
    </ul>
    {{/has_notices}}
    {{^has_notices}}<p>{{t.folder_empty}}</p>{{/has_notices}}
    {{/content}}{{/layout}}
    """

    static let notice = """
    {{<layout}}{{$content}}
    {{>resident_nav}}
    <article id="notice">
    <h1>{{notice_title}}</h1>
    <p class="meta">{{t.notice_from}} <span class="sender">{{sender}}</span> ({{sender_org}}) · {{t.notice_sent}} {{time}} · {{notice_type}}</p>
    <div class="body">{{#lines}}<p>{{.}}</p>{{/lines}}</div>
    {{#expires}}<p class="expires">{{t.folder_expires}} {{expires}}</p>{{/expires}}
    </article>
    <form method="post" action="/folder/delete">
    <input type="hidden" name="csrf_token" value="{{csrf}}">
    <input type="hidden" name="id" value="{{id}}">
    <button type="submit">{{t.notice_delete}}</button>
    </form>
    <p><a href="/folder">{{t.notice_back}}</a></p>
    {{/content}}{{/layout}}
    """

    static let residentTemplates: [(String, String)] = [
        ("resident_nav", residentNav), ("log", log), ("links", links), ("folder", folder), ("notice", notice),
    ]

    static let residentStylesheet = """
    main:has(table) { max-width: 72rem; }
    nav.resident ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 1rem; }
    .scroll { overflow-x: auto; }
    table { border-collapse: collapse; font-size: 0.9rem; }
    th, td { border: 1px solid #8a8a8a; padding: 0.3rem; vertical-align: top; text-align: left; }
    code, .code { font-family: monospace; font-size: 0.8rem; word-break: break-all; }
    span.code { word-break: normal; white-space: nowrap; }
    pre { white-space: pre-wrap; word-break: break-all; font-size: 0.75rem; }
    .filters label { display: inline-block; margin-right: 0.3rem; }
    .notice.unread a { font-weight: bold; }
    .error { color: #a00000; }

    """
}
