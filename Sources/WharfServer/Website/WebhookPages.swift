import Foundation
import Hummingbird
import WharfAuth
import WharfCore
import WharfHub
import WharfMetadata

/// A repository's webhooks on the website: the list with a form to add one, and each webhook's
/// page (edit, delete, send a test event, the delivery log with redeliver). `WebhookService`
/// holds every rule; these pages only ask it and show what it says.
struct WebhookPages: Sendable {
    let site: Website

    var hub: Hub { site.hub }

    func register(on router: Router<WharfRequestContext>) {
        router.get("/r/:namespace/:name/webhooks") { request, context in
            try await site.page(request, context: context) { visit in
                let notice = Website.notice(request, from: Self.notices)
                return try await list(try Website.repository(context), visit, notice: notice)
            }
        }
        router.post("/r/:namespace/:name/webhooks") { request, context in
            try await site.submit(request, context: context) { visit, form in
                let name = try Website.repository(context)
                do {
                    let created = try await hub.webhooks.create(in: .repository(name), draft(form, creating: true), by: try visit.requirePrincipal())
                    return PageRenderer.redirect("/r/\(name.value)/webhooks/\(created.id)?notice=created")
                } catch let error as HubError where error.kind == .invalid {
                    return try await list(name, visit, error: error.message, form: form)
                }
            }
        }
        router.get("/r/:namespace/:name/webhooks/:id") { request, context in
            try await site.page(request, context: context) { visit in
                let notice = Website.notice(request, from: Self.notices)
                return try await show(try Website.repository(context), try Website.numericID(context), visit, notice: notice)
            }
        }
        router.post("/r/:namespace/:name/webhooks/:id") { request, context in
            try await site.submit(request, context: context) { visit, form in
                try await act(context, visit) { name, id, principal in
                    _ = try await hub.webhooks.update(id, in: .repository(name), draft(form, creating: false), by: principal)
                    return "saved"
                }
            }
        }
        router.post("/r/:namespace/:name/webhooks/:id/test") { request, context in
            try await site.submit(request, context: context) { visit, _ in
                try await act(context, visit) { name, id, principal in
                    _ = try await hub.webhooks.sendTest(id, in: .repository(name), by: principal)
                    return "tested"
                }
            }
        }
        router.post("/r/:namespace/:name/webhooks/:id/deliveries/:delivery/redeliver") { request, context in
            try await site.submit(request, context: context) { visit, _ in
                try await act(context, visit) { name, id, principal in
                    _ = try await hub.webhooks.redeliver(try context.parameters.require("delivery"), of: id, in: .repository(name), by: principal)
                    return "redelivered"
                }
            }
        }
        router.post("/r/:namespace/:name/webhooks/:id/delete") { request, context in
            try await site.submit(request, context: context) { visit, _ in
                let name = try Website.repository(context)
                try await hub.webhooks.delete(try Website.numericID(context), in: .repository(name), by: try visit.requirePrincipal())
                return PageRenderer.redirect("/r/\(name.value)/webhooks?notice=deleted")
            }
        }
    }

    /// The notices a redirect after an action names.
    static let notices = [
        "created": "Webhook added. Send a test event to check the receiver.", "deleted": "Webhook deleted.", "saved": "Webhook saved.",
        "tested": "Test event queued; it appears in the log below once sent.", "redelivered": "Delivery queued again.",
    ]

    /// The form's webhook fields; on an edit, an empty secret keeps the old one unless "remove" is ticked.
    private func draft(_ form: WebForm, creating: Bool) -> WebhookService.Draft {
        let events = WebhookFormat.subscribable.map(\.rawValue).filter { form.checked("event_\($0)") }
        var secret = form.text("secret")
        if !creating, form.checked("remove_secret") { secret = "" }
        return WebhookService.Draft(name: form["name"] ?? "", url: form["url"] ?? "", secret: secret, events: events,
                                    format: form["format"] ?? WebhookFormat.hub, enabled: creating ? nil : form.checked("enabled"))
    }

    /// Runs an action on a webhook, then sends the browser to its page with a notice (so a reload
    /// does not repeat it); a refusal is explained on the page itself.
    private func act(_ context: WharfRequestContext, _ visit: Website.Visit,
                     _ change: (RepositoryName, Int64, Principal) async throws -> String) async throws -> Response {
        let name = try Website.repository(context)
        let id = try Website.numericID(context)
        let principal = try visit.requirePrincipal()
        do {
            let notice = try await change(name, id, principal)
            return PageRenderer.redirect("/r/\(name.value)/webhooks/\(id)?notice=\(notice)")
        } catch let error as HubError where [.invalid, .conflict].contains(error.kind) || error.message == "delivery not found" {
            return try await show(name, id, visit, error: error.message)
        }
    }

    func list(_ name: RepositoryName, _ visit: Website.Visit, notice: String? = nil, error: String? = nil,
              form: WebForm? = nil) async throws -> Response {
        let principal = try visit.requirePrincipal()
        let webhooks = try await hub.webhooks.list(.repository(name), by: principal)
        var data = try await site.adminTabHeader(name, principal: principal, tab: "webhooks")
        data["webhooks"] = webhooks.map { webhook -> [String: Any] in
            ["id": webhook.id, "name": webhook.name, "url": webhook.url, "events": webhook.events.joined(separator: ", "),
             "format": webhook.format, "enabled": webhook.enabled, "signed": webhook.secret != nil,
             "disabledReason": webhook.disabledReason as Any]
        }
        data["error"] = error
        data["notice"] = notice
        data["draft"] = ["name": form?["name"] ?? "", "url": form?["url"] ?? ""]
        data["eventChoices"] = eventChoices(selected: form.map { f in WebhookFormat.subscribable.map(\.rawValue).filter { f.checked("event_\($0)") } }
                                            ?? [HubEvent.Kind.push.rawValue])
        data["formats"] = formatChoices(selected: form?["format"] ?? WebhookFormat.hub)
        return site.renderer.page("webhooks", title: "Webhooks – \(name.value)", data: data, viewer: visit.viewer,
                                  status: error == nil ? .ok : .badRequest)
    }

    func show(_ name: RepositoryName, _ id: Int64, _ visit: Website.Visit, notice: String? = nil, error: String? = nil) async throws -> Response {
        let principal = try visit.requirePrincipal()
        let webhook = try await hub.webhooks.show(id, in: .repository(name), by: principal)
        let log = try await hub.webhooks.deliveries(of: id, in: .repository(name), limit: 50, by: principal)
        let now = hub.stores.clock.now
        var data = try await site.adminTabHeader(name, principal: principal, tab: "webhooks")
        data["webhook"] = [
            "id": webhook.id, "name": webhook.name, "url": webhook.url, "enabled": webhook.enabled, "signed": webhook.secret != nil,
            "disabledReason": webhook.disabledReason as Any, "failures": webhook.consecutiveFailures,
        ]
        data["eventChoices"] = eventChoices(selected: webhook.events)
        data["formats"] = formatChoices(selected: webhook.format)
        data["deliveries"] = log.map { deliveryView($0, now: now) }
        data["notice"] = notice
        data["error"] = error
        return site.renderer.page("webhook", title: "\(webhook.name) – webhooks of \(name.value)", data: data, viewer: visit.viewer,
                                  status: error == nil ? .ok : .badRequest)
    }

    /// One row of the delivery log. Names differ from the page's own (`failure`, not `error`):
    /// a key missing here would otherwise be looked up in the enclosing context.
    private func deliveryView(_ record: WebhookService.DeliveryRecord, now: Date) -> [String: Any] {
        let delivery = record.delivery
        let last = record.attempts.last
        var view: [String: Any] = [
            "id": delivery.id, "event": delivery.event, "state": delivery.state.rawValue,
            "created": WebViews.time(delivery.createdAt, now: now) as Any,
            "lastStatus": last?.statusCode.map(String.init) ?? (last == nil ? "–" : "no answer"),
            "attemptCount": delivery.attempts, "redelivery": delivery.redeliveryOf != nil, "body": delivery.body,
            "attempts": record.attempts.map { attempt -> [String: Any] in
                var row: [String: Any] = ["number": attempt.number, "started": WebViews.time(attempt.startedAt, now: now) as Any,
                                          "duration": attempt.durationMilliseconds, "status": attempt.statusCode.map(String.init) ?? "–"]
                if let failure = attempt.error { row["failure"] = failure }
                if !attempt.responseExcerpt.isEmpty { row["excerpt"] = attempt.responseExcerpt }
                return row
            },
        ]
        if delivery.state == .pending { view["nextTry"] = WebViews.time(delivery.nextAttemptAt, now: now) as Any }
        if let validation = delivery.validation {
            var reported: [String: Any] = ["verdict": validation.state]
            if let text = validation.description, !text.isEmpty { reported["verdictText"] = text }
            if let context = validation.context, !context.isEmpty { reported["verdictContext"] = context }
            view["validation"] = reported
        }
        return view
    }

    private func eventChoices(selected: [String]) -> [[String: Any]] {
        WebhookFormat.subscribable.map { kind in
            ["value": kind.rawValue, "label": kind.rawValue.replacingOccurrences(of: "_", with: " "), "checked": selected.contains(kind.rawValue)]
        }
    }

    private func formatChoices(selected: String) -> [[String: Any]] {
        [("hub", "Docker Hub (push payload)"), ("cloudevents", "CloudEvents 1.0")].map {
            ["value": $0.0, "label": $0.1, "selected": $0.0 == selected]
        }
    }
}
