package web

import (
	"fmt"
	"net/http"
)

// Languages.
const (
	langZh = "zh"
	langEn = "en"
)

// text maps a key to its Chinese and English text. Wording shared with the
// kiosk (ui/i18n) is kept the same, so a resident reads the same words on
// the kiosk and on the phone.
var text = map[string][2]string{
	"app.title":   {"邻里网格服务", "Linli grid service"},
	"app.lang":    {"English", "中文"},
	"app.login":   {"网格员登录", "Staff login"},
	"app.logout":  {"退出", "Log out"},
	"app.report":  {"我要报事", "Report a problem"},
	"app.track":   {"查询进度", "Track a ticket"},
	"app.notices": {"社区公告", "Notices"},
	"app.wishes":  {"微心愿", "Micro-wishes"},
	"app.home":    {"首页", "Home"},
	"app.error":   {"出错了", "Something went wrong"},
	"app.back":    {"返回", "Back"},
	"app.ok":      {"确定", "OK"},
	"app.none":    {"无", "none"},
	"app.live":    {"实时更新", "Live"},
	"app.offline": {"连接中断，正在重连…", "Connection lost; reconnecting…"},
	"app.partial": {"有网格中心暂未应答：列表可能不全，请稍后刷新", "A hub of another shard did not answer: this list may be incomplete; refresh soon"},
	"app.notify":  {"开启声音和通知", "Turn on sound and notifications"},
	"who.kiosk":   {"自助服务站", "Kiosk"},
	"who.web":     {"手机报事", "Phone report"},
	"who.system":  {"系统", "System"},
	"app.emergency": {"紧急情况请拨打 119（火警）110（报警）120（急救）",
		"Emergency: call 119 (fire), 110 (police), 120 (ambulance)"},

	"standby.title":   {"备用网格中心", "Standby hub"},
	"standby.text":    {"本网格中心正在备用，值守的是 %s：请打开它的地址，或稍后刷新。", "This hub is standing by; the active hub is %s. Open its address, or refresh in a moment."},
	"standby.unknown": {"本网格中心正在备用，即将接管值守：请稍后刷新。", "This hub is standing by and about to take over. Refresh in a moment."},
	"standby.retry":   {"刷新", "Refresh"},

	"login.title":     {"网格员登录", "Staff login"},
	"login.user":      {"工号", "Worker id"},
	"login.password":  {"密码", "Password"},
	"login.submit":    {"登录", "Log in"},
	"login.wrong":     {"工号或密码错误", "Wrong worker id or password"},
	"login.throttled": {"尝试次数过多，请稍后再试", "Too many attempts; please try again later"},

	"nav.alerts":    {"警报", "Alerts"},
	"nav.tickets":   {"工单", "Tickets"},
	"nav.wishes":    {"心愿", "Wishes"},
	"nav.notices":   {"公告", "Notices"},
	"nav.devices":   {"设备", "Devices"},
	"nav.dashboard": {"统计", "Dashboard"},

	"alerts.title":      {"实时警报", "Live alerts"},
	"alerts.none":       {"暂无警报", "No active alerts"},
	"alerts.ack":        {"确认接警", "Acknowledge"},
	"alerts.reset":      {"远程复位", "Reset device"},
	"alerts.acked":      {"已接警：%s", "Acknowledged by %s"},
	"alerts.escalate":   {"升级倒计时", "Escalates in"},
	"alerts.escalated":  {"已升级", "Escalating"},
	"alerts.final":      {"最高级别", "Top level"},
	"alerts.level":      {"级别", "Level"},
	"alerts.assigned":   {"负责人", "Assigned"},
	"level.grid":        {"网格", "grid"},
	"level.community":   {"社区", "community"},
	"level.subdistrict": {"街道", "subdistrict"},
	"state.alarm":       {"报警", "alarm"},
	"state.fault":       {"故障", "fault"},
	"state.pre-alarm":   {"预警", "pre-alarm"},
	"state.normal":      {"正常", "normal"},
	"state.offline":     {"离线", "offline"},

	"alert.kind.temperature": {"温度报警", "overheating"},
	"alert.kind.residual":    {"漏电报警", "electrical leakage"},
	"alert.kind.load":        {"过载报警", "overload"},
	"alert.kind.smoke":       {"烟雾报警", "smoke detected"},
	"alert.kind.other":       {"火灾危险报警", "fire danger"},

	"tickets.title":     {"工单", "Tickets"},
	"tickets.mine":      {"我的", "Mine"},
	"tickets.grid":      {"本网格", "My grid"},
	"tickets.all":       {"全部", "All"},
	"tickets.none":      {"暂无工单", "No tickets"},
	"tickets.open":      {"打开", "Open"},
	"tickets.accept":    {"签收", "Accept"},
	"tickets.start":     {"开始处理", "Start"},
	"tickets.resolve":   {"办结", "Resolve"},
	"tickets.return":    {"退单", "Return"},
	"tickets.close":     {"关闭", "Close"},
	"tickets.duplicate": {"标记重复", "Mark duplicate"},
	"tickets.note":      {"处理说明", "Note"},
	"tickets.reason":    {"退单原因", "Reason"},
	"tickets.of":        {"重复于工单号", "Duplicate of ticket"},
	"tickets.report":    {"报事内容", "Report"},
	"tickets.elsewhere": {"此工单由其他网格中心保存：居民原话和电话请在该中心的控制台查看", "Another hub holds this ticket: the resident's words and phone are on that hub's console"},
	"tickets.phone":     {"联系电话", "Phone"},
	"tickets.timeline":  {"处理记录", "Timeline"},
	"tickets.due":       {"时限", "Due"},

	"status.submitted":   {"待受理", "Submitted"},
	"status.accepted":    {"已受理", "Accepted"},
	"status.in-progress": {"处理中", "In progress"},
	"status.resolved":    {"已办结", "Resolved"},
	"status.rated":       {"已评价", "Rated"},
	"status.closed":      {"已归档", "Closed"},
	"status.returned":    {"已退回", "Returned"},
	"status.escalated":   {"已督办", "Escalated"},
	"status.reopened":    {"重新办理", "Reopened"},
	"status.duplicate":   {"重复工单", "Duplicate"},

	"track.title":    {"查询进度", "Track a ticket"},
	"track.enter":    {"请输入工单号", "Enter your ticket number"},
	"track.search":   {"查询", "Search"},
	"track.notfound": {"没有找到工单 %s，请核对号码", "No ticket %s found. Please check the number"},
	"track.assigned": {"处理人", "Handled by"},
	"track.due":      {"预计完成", "Expected by"},
	"track.where":    {"位置", "Place"},
	"track.what":     {"问题", "Problem"},
	"track.rating":   {"评价", "Rating"},

	"rate.question":    {"您对工单 %s 的处理满意吗？", "Are you satisfied with ticket %s?"},
	"rate.satisfied":   {"满意", "Satisfied"},
	"rate.basically":   {"基本满意", "Basically satisfied"},
	"rate.unsatisfied": {"不满意", "Unsatisfied"},
	"rate.thanks":      {"感谢您的评价！", "Thank you for your rating!"},

	"report.title":      {"我要报事", "Report a problem"},
	"report.category":   {"请选择问题类型", "What kind of problem is it?"},
	"report.building":   {"在哪栋楼？", "Which building?"},
	"report.unit":       {"哪个单元？", "Which unit?"},
	"report.door":       {"门牌号（可不填）", "Door number (optional)"},
	"report.phrases":    {"请描述问题（可多选）", "Describe the problem (choose any)"},
	"report.text":       {"补充说明（可不填）", "Anything else (optional)"},
	"report.phone":      {"联系电话（可不填）", "Phone (optional)"},
	"report.consent":    {"同意工作人员来电联系我", "Staff may call me"},
	"report.private":    {"电话只给处理工单的工作人员，不会公开", "Only the staff handling your ticket see your phone number"},
	"report.submit":     {"提交", "Submit"},
	"report.done":       {"已提交！您的工单号", "Submitted! Your ticket number"},
	"report.keep":       {"请记下工单号，或收藏本页查看进度", "Keep this number, or bookmark this page to follow your ticket"},
	"report.invalidtel": {"请输入 11 位手机号或不填", "Enter an 11-digit mobile number, or leave it empty"},
	"report.bad":        {"请选择问题类型和楼栋", "Please choose a kind of problem and a building"},
	"place.building":    {"%s号楼", "Building %s"},
	"place.unit":        {"%s单元", "Unit %s"},

	"wish.title":    {"微心愿", "Micro-wishes"},
	"wish.open":     {"待认领", "Waiting"},
	"wish.claimed":  {"已认领", "Claimed"},
	"wish.done":     {"已完成", "Done"},
	"wish.none":     {"还没有心愿", "No wishes yet"},
	"wish.claim":    {"为志愿者认领", "Claim for a volunteer"},
	"wish.by":       {"志愿者姓名", "Volunteer's name"},
	"wish.markdone": {"标记完成", "Mark done"},

	"notice.title":        {"社区公告", "Notices"},
	"notice.none":         {"暂无公告", "No notices"},
	"notice.publish":      {"发布公告", "Publish a notice"},
	"notice.head":         {"标题", "Title"},
	"notice.body":         {"内容", "Text"},
	"notice.level":        {"级别", "Level"},
	"notice.expires":      {"有效期（小时，0 为长期）", "Valid for (hours, 0 = no expiry)"},
	"notice.typhoonlevel": {"台风预警等级", "Typhoon warning level"},
	"notice.info":         {"一般", "Info"},
	"notice.warning":      {"重要", "Important"},
	"notice.typhoon":      {"台风预警", "Typhoon warning"},
	"notice.community":    {"社区", "Community"},

	"devices.title":    {"设备", "Devices"},
	"devices.online":   {"在线", "online"},
	"devices.offline":  {"离线", "offline"},
	"devices.seen":     {"最后在线", "Last seen"},
	"devices.firmware": {"固件", "Firmware"},
	"devices.health":   {"健康", "Health"},
	"devices.latched":  {"锁定通道", "Latched"},
	"devices.plan":     {"楼栋平面", "Buildings"},
	"devices.queue":    {"待发", "queue"},
	"devices.uptime":   {"运行", "up"},

	"dash.title": {"统计", "Dashboard"},

	"err.forbidden":  {"没有权限", "Not allowed"},
	"err.notfound":   {"没有找到", "Not found"},
	"err.bad":        {"请求有误", "Bad request"},
	"err.csrf":       {"页面已过期，请刷新后重试", "This page has expired; reload it and try again"},
	"err.busy":       {"请求太频繁，请稍后再试", "Too many requests; please wait a moment"},
	"err.transition": {"当前状态下不能这样操作", "Not possible in the ticket's current state"},
	"err.server":     {"服务器出错，请稍后再试", "Server error; please try again later"},
	"err.noanswer":   {"设备没有应答", "The device did not answer"},
}

// tr returns the text of key in lang, formatted with args. A missing key
// shows as itself, so it is seen in screenshots and tests.
func tr(lang, key string, args ...any) string {
	t, ok := text[key]
	if !ok {
		return key
	}
	s := t[0]
	if lang == langEn {
		s = t[1]
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// langOf is the request's language: the lang cookie, else Chinese.
func langOf(r *http.Request) string {
	if c, err := r.Cookie(cookieLang); err == nil && c.Value == langEn {
		return langEn
	}
	return langZh
}
