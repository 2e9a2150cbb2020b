"""The offices' pages: the payments office's cycles, the indicators, and the admins' dead letters."""

from __future__ import annotations

import json
import secrets

from chassis.entrypoints import http
from gateway.assistance_routes import CYCLES
from gateway.console import words
from gateway.console.base import ConsoleBase, _add_months, page


class OfficePages(ConsoleBase):
    """Payments (社会化发放), indicators and operations."""

    # --- the payments office (社会化发放): cycles to freeze, send and reconcile ---------------------

    def _cycle(self, session, cycle_id):
        code, cycle = self.api(session, "GET", f"{CYCLES}/{cycle_id}")
        return code, cycle

    @http("GET", "/console/payments")
    @page
    def console_payments(self, request):
        """The payments office's queue: this month, the next and the two before, each with what is
        to be done (freeze, send to the bank, reconcile). The assistance API has no list of cycles,
        and a cycle's id is its month (chassis.payment_runs.cycle_id_of), so each month is read by id."""
        session = self.session(request)
        first = self.clock.today().replace(day=1)
        months = [_add_months(first, n) for n in (1, 0, -1, -2)]
        rows = []
        for month in months:
            code, cycle = self._cycle(session, f"{month.year:04d}-{month.month:02d}")
            if code in (401, 403):
                return self.render("error.html", 403, session, title="无权办理", detail=words.refusal(cycle))
            if code not in (200, 404):
                return self.render("error.html", code, session, title="无法打开发放队列", detail=words.refusal(cycle))
            rows.append({"month": month, "cycle": cycle if code == 200 else None})
        return self.render("payments.html", session=session, rows=rows, key=secrets.token_urlsafe(12))

    @http("POST", "/console/payments/cycles")
    @page
    def console_freeze_cycle(self, request):
        """冻结: the month's cycle frozen through the API (a frozen month is answered as it is)."""
        session, form = self.posted(request)
        code, answer = self.api(session, "POST", CYCLES, {"month": form.get("month", "")}, key=form.get("key"))
        if code >= 400:
            return self.render("error.html", code, session, title="冻结未完成", detail=words.refusal(answer))
        notice = "已冻结" if answer.get("created") else "该月已冻结，未重复冻结"
        return self.console_payment_cycle(request, cycle_id=answer["cycle_id"], notice=notice)

    @http("GET", "/console/payments/cycles/<cycle_id>")
    @page
    def console_payment_cycle(self, request, cycle_id, notice=None, status=200, result=None, error=None):
        session = self.session(request)
        code, cycle = self._cycle(session, cycle_id)
        if code == 404:
            return self.not_found(session)
        if code >= 400:
            return self.render("error.html", code, session, title="无法打开发放批次", detail=words.refusal(cycle))
        return self.render(
            "payment_cycle.html",
            status,
            session,
            cycle=cycle,
            notice=notice,
            result=result,
            error=error,
            key=secrets.token_urlsafe(12),
        )

    @http("POST", "/console/payments/cycles/<cycle_id>/bank-batch")
    @page
    def console_send_batch(self, request, cycle_id):
        """发送: the cycle's pending payments handed to the bank (the API writes the batch file)."""
        session, form = self.posted(request)
        code, answer = self.api(session, "POST", f"{CYCLES}/{cycle_id}/bank-batch", key=form.get("key"))
        if code == 404:
            return self.not_found(session)
        if code >= 400:
            return self.console_payment_cycle(request, cycle_id=cycle_id, notice=words.refusal(answer), status=code)
        notice = f"已发送银行：{answer['rows']} 笔，合计 {words.yuan(answer['total_fen'])}"
        return self.console_payment_cycle(request, cycle_id=cycle_id, notice=notice)

    @http("POST", "/console/payments/cycles/<cycle_id>/bank-results")
    @page
    def console_reconcile(self, request, cycle_id):
        """对账: the bank's answers, one a line (payment id, paid or failed, the reason of a failure),
        as the bank's results file has them; the API applies and judges them."""
        session, form = self.posted(request)
        results, bad = words.bank_results(form.get("results", ""))
        if bad or not results:
            error = f"第 {bad} 行格式有误" if bad else "请至少填写一行银行回盘结果"
            return self.console_payment_cycle(
                request, cycle_id=cycle_id, error=error + "（付款编号,paid 或 failed,原因）。", status=422
            )
        code, answer = self.api(
            session, "POST", f"{CYCLES}/{cycle_id}/bank-results", {"results": results}, key=form.get("key")
        )
        if code == 404:
            return self.not_found(session)
        if code >= 400:
            return self.console_payment_cycle(request, cycle_id=cycle_id, notice=words.refusal(answer), status=code)
        return self.console_payment_cycle(request, cycle_id=cycle_id, notice="对账已完成", result=answer)

    # --- indicators (一组数据看态势) ----------------------------------------------------------------

    @http("GET", "/console/indicators")
    @page
    def console_indicators(self, request):
        """The region's indicators on a day, each against its target, from the API's one route (every
        owner's own figures); the chart (ECharts, charts.js) draws the same numbers the table lists."""
        session = self.session(request)
        region = (request.args.get("region") or session.actor.area or "").strip()
        on = (request.args.get("date") or self.clock.today().isoformat()).strip()
        figures, error, code = None, None, 200
        if region:
            code, answer = self.api(session, "GET", "/api/v1/indicators", query={"region": region, "date": on})
            if code == 200:
                figures = answer["indicators"]
            else:
                error = words.refusal(answer)
        return self.render(
            "indicators.html",
            code if code >= 400 else 200,
            session,
            region=region,
            on=on,
            figures=figures,
            chart=json.dumps(words.chart_of(figures or []), ensure_ascii=False),
            error=error,
        )

    # --- operations (运维): dead letters by queue, and replay --------------------------------------

    @http("GET", "/console/operations")
    @page
    def console_operations(self, request, notice=None, status=200):
        session = self.session(request)
        code, answer = self.api(session, "GET", "/api/v1/operations/dead-letters")
        if code in (401, 403):
            return self.render("error.html", 403, session, title="无权查看", detail=words.refusal(answer))
        if code >= 400:
            return self.render("error.html", code, session, title="无法读取死信队列", detail=words.refusal(answer))
        return self.render(
            "operations.html", status, session, queues=answer["queues"], notice=notice, key=secrets.token_urlsafe(12)
        )

    @http("POST", "/console/operations/dead-letters/<queue>/replay")
    @page
    def console_replay(self, request, queue):
        """重放: the queue's dead letters moved back to it, through the API (which audits it)."""
        session, form = self.posted(request)
        code, answer = self.api(
            session, "POST", f"/api/v1/operations/dead-letters/{queue}/replay", {}, key=form.get("key")
        )
        if code >= 400:
            return self.console_operations(request, notice=words.refusal(answer), status=code)
        return self.console_operations(request, notice=f"已重放 {answer['replayed']} 条消息到 {queue}")
