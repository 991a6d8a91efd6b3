import Mustache

/// The console's Mustache templates. `{{value}}` is HTML-escaped; `{{{value}}}` is used only for
/// SVG the console drew itself (``LineChart``, ``AttemptTimeline``), whose texts are escaped.
enum ConsoleTemplates {
    /// Every page inside the same frame: header, navigation, sign-out.
    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Wharf console</title>
        <link rel="stylesheet" href="/console/assets/console.css">
        </head>
        <body>
        <header class="top">
          <a class="brand" href="/console">Wharf <span>console</span></a>
          {{#signedIn}}
          <nav class="sections">
            {{#nav}}<a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{name}}</a>{{/nav}}
          </nav>
          <form method="post" action="/console/sign-out" class="sign-out">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <button type="submit">Sign out <span class="muted">{{keyPrefix}}</span></button>
          </form>
          {{/signedIn}}
        </header>
        <main id="main">
        {{{body}}}
        </main>
        </body>
        </html>
        """

    static let signIn = """
        <section class="card narrow">
          <h1>Sign in</h1>
          <p>Paste an API key with the <code>admin</code> scope. It is checked, then kept only as a signed session cookie.</p>
          {{#message}}<p class="notice bad" role="alert">{{message}}</p>{{/message}}
          <form method="post" action="/console/sign-in">
            <label for="key">Admin key</label>
            <input id="key" name="key" type="password" autocomplete="off" required>
            <button type="submit" id="sign-in">Sign in</button>
          </form>
        </section>
        """

    static let ranges = """
        <nav class="ranges" aria-label="time range">{{#ranges}}<a href="?range={{name}}"{{#current}} aria-current="true"{{/current}}>{{label}}</a>{{/ranges}}</nav>
        """

    static let overview = """
        <div class="heading"><h1>Overview</h1>{{>ranges}}</div>
        <p class="muted">{{rangeLabel}}, from the analytics roll-ups (written every few seconds).</p>
        <section class="tiles" id="tiles">
        {{#tiles}}<div class="tile"><span class="label">{{label}}</span><span class="value">{{value}}</span></div>{{/tiles}}
        </section>
        <section class="charts">
        {{#charts}}
        <figure class="card">
          <figcaption>{{title}}</figcaption>
          {{{svg}}}
          <ul class="legend">{{#legend}}<li><span class="swatch {{style}}"></span>{{name}}</li>{{/legend}}</ul>
        </figure>
        {{/charts}}
        </section>
        <section class="card">
          <h2>Top tenants</h2>
          {{#hasCustomers}}
          <div class="table-wrap"><table>
            <thead><tr><th>Tenant</th><th class="num">Requests</th><th class="num">Errors</th><th class="num">Jobs</th><th class="num">Revenue</th><th>Last seen</th></tr></thead>
            <tbody>{{#customers}}<tr><td>{{name}}</td><td class="num">{{requests}}</td><td class="num">{{errors}}</td><td class="num">{{jobs}}</td><td class="num">{{revenue}}</td><td>{{lastSeen}}</td></tr>{{/customers}}</tbody>
          </table></div>
          {{/hasCustomers}}
          {{^hasCustomers}}<p class="muted">No traffic in this range.</p>{{/hasCustomers}}
        </section>
        """

    static let orchestrators = """
        <div class="heading"><h1>Orchestrators</h1>{{>ranges}}</div>
        <p class="muted">State in the pool now; attempts over the {{rangeLabel}}.</p>
        <div class="table-wrap card"><table id="orchestrators">
          <thead><tr><th>Orchestrator</th><th>Region</th><th>Status</th><th class="num">Latency</th><th class="num">Failures in a row</th><th class="num">Suspensions</th><th>Suspended until</th>
          <th class="num">Attempts</th><th class="num">Success</th><th class="num">p50</th><th class="num">p99</th><th class="num">Share</th><th class="num">Retries</th><th class="num">Hedges</th><th>Failures by kind</th><th class="num">Cost (wei)</th><th>Last error</th></tr></thead>
          <tbody>
          {{#rows}}<tr><td class="mono">{{address}}</td><td>{{region}}</td><td><span class="pill {{statusClass}}">{{status}}</span></td><td class="num">{{latency}}</td><td class="num">{{failuresInARow}}</td><td class="num">{{suspensions}}</td><td>{{suspendedUntil}}</td>
          <td class="num">{{attempts}}</td><td class="num">{{successRate}}</td><td class="num">{{p50}}</td><td class="num">{{p99}}</td><td class="num">{{share}}</td><td class="num">{{retries}}</td><td class="num">{{hedges}}</td><td>{{failures}}</td><td class="num">{{cost}}</td><td class="wrap">{{lastError}}</td></tr>{{/rows}}
          </tbody>
        </table></div>
        """

    static let tenants = """
        <div class="heading"><h1>Tenants</h1></div>
        {{#message}}<p class="notice" role="status">{{message}}</p>{{/message}}
        <div class="table-wrap card"><table id="tenants">
          <thead><tr><th>Tenant</th><th>Spent this month</th><th class="num">Requests (30 days)</th><th class="num">Jobs (30 days)</th><th>Last seen</th></tr></thead>
          <tbody>
          {{#rows}}<tr><td><a href="/console/tenants/{{name}}">{{name}}</a></td>
          <td>{{month}} of {{monthBudget}}{{#hasBudget}}<div class="meter"><progress max="100" value="{{monthUsed}}">{{monthUsed}}%</progress></div>{{/hasBudget}}</td>
          <td class="num">{{requests}}</td><td class="num">{{jobs}}</td><td>{{lastSeen}}</td></tr>{{/rows}}
          </tbody>
        </table></div>
        <section class="card narrow">
          <h2>New tenant</h2>
          <form method="post" action="/console/tenants">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <label for="tenant-name">Name</label>
            <input id="tenant-name" name="name" required maxlength="64">
            <button type="submit">Create tenant</button>
          </form>
        </section>
        """

    static let tenant = """
        <div class="heading"><h1>Tenant {{name}}</h1></div>
        <p class="muted mono">{{id}} · created {{created}}</p>
        <p id="pricing">Pays by {{pricing}}.</p>
        {{#message}}<p class="notice" role="status">{{message}}</p>{{/message}}
        {{#newToken}}
        <section class="card notice good" id="new-key">
          <h2>New key</h2>
          <p>Copy it now: it is not shown again.</p>
          <pre class="token" id="new-token">{{newToken}}</pre>
        </section>
        {{/newToken}}
        <section class="card">
          <h2>Spending against budgets</h2>
          {{#budgets}}
          <div class="budget"><span class="label">{{period}}</span> <span>{{spent}} of {{limit}}</span>
          {{#hasLimit}}<progress max="100" value="{{percent}}"{{#over}} class="over"{{/over}}>{{percent}}%</progress>{{/hasLimit}}</div>
          {{/budgets}}
        </section>
        {{#hasLimits}}
        <section class="card"><h2>Limits</h2><dl class="facts">{{#limits}}<dt>{{label}}</dt><dd>{{value}}</dd>{{/limits}}</dl></section>
        {{/hasLimits}}
        <section class="card">
          <h2>Keys</h2>
          <div class="table-wrap"><table id="keys">
            <thead><tr><th>Prefix</th><th>Name</th><th>Scopes</th><th>Created</th><th>Revoked</th><th></th></tr></thead>
            <tbody>
            {{#keys}}<tr data-prefix="{{prefix}}"><td class="mono">{{prefix}}</td><td>{{keyName}}</td><td>{{scopes}}</td><td>{{created}}</td><td>{{revoked}}</td>
            <td>{{#isActive}}<form method="post" action="/console/keys/{{prefix}}/revoke"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="tenant" value="{{name}}"><button type="submit" class="danger" id="revoke-{{prefix}}">Revoke</button></form>{{/isActive}}</td></tr>{{/keys}}
            </tbody>
          </table></div>
          <h3>New key</h3>
          <form method="post" action="/console/keys" class="inline">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <input type="hidden" name="tenant" value="{{name}}">
            <label for="key-name">Name</label>
            <input id="key-name" name="name" maxlength="64" value="console">
            <fieldset><legend>Scopes</legend>
            {{#scopes}}<label class="check"><input type="checkbox" name="scopes[]" value="{{.}}" id="scope-{{.}}"> {{.}}</label>{{/scopes}}
            </fieldset>
            <button type="submit" id="create-key">Create key</button>
          </form>
        </section>
        """

    static let jobs = """
        <div class="heading"><h1>Jobs</h1></div>
        {{#message}}<p class="notice bad" role="alert">{{message}}</p>{{/message}}
        <form method="get" action="/console/jobs" class="inline card">
          <label for="job-id">Job id</label><input id="job-id" name="id" placeholder="job_…">
          <label for="job-tenant">Tenant</label>
          <select id="job-tenant" name="tenant">{{#tenants}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/tenants}}</select>
          <label for="job-status">Status</label>
          <select id="job-status" name="status">{{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/statuses}}</select>
          <button type="submit" id="search-jobs">Search</button>
        </form>
        {{#searched}}
        <div class="table-wrap card"><table id="jobs">
          <thead><tr><th>Job</th><th>Kind</th><th>Status</th><th>Created</th><th class="num">Took</th></tr></thead>
          <tbody>{{#rows}}<tr><td class="mono"><a href="/console/jobs/{{id}}">{{id}}</a></td><td>{{kind}}</td><td>{{status}}</td><td>{{created}}</td><td class="num">{{duration}}</td></tr>{{/rows}}</tbody>
        </table></div>
        {{/searched}}
        """

    static let job = """
        <div class="heading"><h1>Job <span class="mono">{{id}}</span></h1></div>
        <section class="card"><dl class="facts">{{#facts}}<dt>{{label}}</dt><dd>{{value}}</dd>{{/facts}}</dl></section>
        {{#timeline}}<figure class="card" id="timeline"><figcaption>Network attempts over time</figcaption>{{{timeline}}}</figure>{{/timeline}}
        {{#hasSteps}}
        <section class="card"><h2>Steps</h2><div class="table-wrap"><table id="steps">
          <thead><tr><th>Step</th><th>Status</th><th class="num">Attempts</th><th class="num">Interruptions</th><th>Updated</th></tr></thead>
          <tbody>{{#steps}}<tr><td class="mono">{{id}}</td><td>{{status}}</td><td class="num">{{attempts}}</td><td class="num">{{interruptions}}</td><td>{{updated}}</td></tr>{{/steps}}</tbody>
        </table></div></section>
        {{/hasSteps}}
        <section class="card"><h2>Attempts and routing decisions</h2>
        {{#hasAttempts}}<div class="table-wrap"><table id="attempts">
          <thead><tr><th>Orchestrator</th><th>Role</th><th>Outcome</th><th>Step</th><th class="num">Latency</th><th class="num">Cost (wei)</th><th>Ended</th><th>Decision</th></tr></thead>
          <tbody>{{#attempts}}<tr><td class="mono">{{orchestrator}}</td><td>{{role}}</td><td>{{outcome}}</td><td class="mono">{{step}}</td><td class="num">{{latency}}</td><td class="num">{{cost}}</td><td>{{ended}}</td><td class="wrap">{{decision}}</td></tr>{{/attempts}}</tbody>
        </table></div>{{/hasAttempts}}
        {{^hasAttempts}}<p class="muted">This job made no network attempts.</p>{{/hasAttempts}}
        </section>
        """

    static let audit = """
        <div class="heading"><h1>Audit log</h1>{{>ranges}}</div>
        <form method="get" action="/console/audit" class="inline card">
          <label for="audit-action">Action</label><input id="audit-action" name="action" value="{{action}}" placeholder="key.revoke">
          <label for="audit-actor">Actor</label><input id="audit-actor" name="actor" value="{{actor}}" placeholder="key:…">
          <button type="submit">Filter</button>
        </form>
        {{#truncated}}<p class="notice">The range holds more entries than one page reads: narrow it.</p>{{/truncated}}
        <div class="table-wrap card"><table id="audit">
          <thead><tr><th class="num">#</th><th>At</th><th>Actor</th><th>Action</th><th>Target</th><th>From</th><th>Result</th><th>Detail</th></tr></thead>
          <tbody>{{#rows}}<tr><td class="num">{{sequence}}</td><td>{{at}}</td><td class="mono">{{actor}}</td><td>{{action}}</td><td class="mono">{{target}}</td><td>{{source}}</td><td><span class="pill {{resultClass}}">{{result}}</span></td><td class="wrap">{{detail}}</td></tr>{{/rows}}</tbody>
        </table></div>
        """

    static let plugins = """
        <div class="heading"><h1>Plugins</h1></div>
        <div class="table-wrap card"><table id="plugins">
          <thead><tr><th>Plugin</th><th>Version</th><th>Presets</th><th>Isolation</th><th>Status</th><th class="num">Crashes</th><th>Signature</th><th>Description</th></tr></thead>
          <tbody>{{#rows}}<tr><td>{{name}}</td><td>{{version}}</td><td>{{presets}}</td><td>{{isolation}}</td><td><span class="pill {{statusClass}}">{{status}}</span></td><td class="num">{{crashes}}</td><td>{{signature}}</td><td class="wrap">{{description}}</td></tr>{{/rows}}</tbody>
        </table></div>
        {{#hasFailures}}<section class="card"><h2>Not loaded</h2><ul>{{#failures}}<li><span class="mono">{{file}}</span>: {{problem}}</li>{{/failures}}</ul></section>{{/hasFailures}}
        """

    static let problem = """
        <section class="card narrow"><h1>{{heading}}</h1><p>{{detail}}</p><p><a href="/console">Back to the overview</a></p></section>
        """

    /// The templates by name, parsed once.
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        let templates = [
            "layout": layout, "sign-in": signIn, "ranges": ranges, "overview": overview, "orchestrators": orchestrators,
            "tenants": tenants, "tenant": tenant, "jobs": jobs, "job": job, "audit": audit, "plugins": plugins, "problem": problem,
        ]
        for (name, text) in templates { try library.register(text, named: name) }
        return library
    }
}
