// energy-agent dashboard: strings (zh-CN, en) and number formats. Our own code, no dependencies.
"use strict";

const STRINGS = {
  en: {
    "app.title": "Energy dashboard",
    "nav.overview": "Overview", "nav.devices": "Devices", "nav.air": "Compressed air",
    "nav.savings": "Savings", "nav.rating": "Rating",
    "common.loading": "Loading…", "common.updated": "Updated", "common.unavailable": "Not available",
    "common.none": "—", "common.so_far": "so far", "common.no_data": "No data yet: the chart fills as the history grows.",
    "ov.partial_day": "partial day", "ov.partial_day_note": "not comparable with a whole day",
    "footer.note": "Served by the energy-agent on this gateway; no internet needed.",
    "ov.power": "Site power now", "ov.today_energy": "Energy today", "ov.today_cost": "Cost today",
    "ov.month_energy": "Energy this month", "ov.eui_today": "EUI today", "ov.eui_month": "EUI this month",
    "ov.vs_baseline": "baseline", "ov.savings": "Savings to date", "ov.savings_yuan": "Money saved",
    "ov.savings_tce": "Standard coal saved", "ov.savings_co2": "CO₂ avoided", "ov.grade": "Rating grade",
    "ov.devices": "Devices", "ov.completeness": "Data completeness today", "ov.power_chart": "Site power, last 24 h",
    "ov.energy_chart": "Energy per day, last 30 days", "ov.band": "±", "ov.g14_ok": "savings verified",
    "ov.g14_no": "savings not verified",
    "ov.method_live": "live reading", "ov.method_interval": "mean power of the last interval",
    "dev.more": "all {n} more values",
    "unit.kwh_per.interval": "kWh per interval", "unit.kwh_per.hour": "kWh per hour",
    "unit.kwh_per.day": "kWh per day", "unit.kwh_per.month": "kWh per month",
    "dev.title": "Devices", "dev.device": "Device", "dev.parent": "Parent meter", "dev.state": "State",
    "dev.success": "Success rate", "dev.latency": "Latency", "dev.last": "Last data", "dev.values": "Last values",
    "dev.month": "This month", "dev.missed": "Missed slots", "dev.tree": "Meter tree balance (month to date)",
    "dev.meter": "Meter", "dev.children": "Sub-meters", "dev.unaccounted": "Unaccounted", "dev.share": "Share",
    "dev.coverage": "Metering coverage", "dev.level": "Level", "dev.target": "Target", "dev.meets": "Meets",
    "dev.installed": "Meters / required", "dev.coverage_rate": "Coverage (worst level, share of target):",
    "dev.coverage_basis": "counted from the configured meters; the rating shows the same figure",
    "dev.coverage_none": "Not computed",
    "level.site": "site boundary", "level.secondary_units": "secondary units", "level.major_equipment": "major equipment",
    "dev.chart": "Energy per device (drag to zoom)",
    "air.title": "Compressed air", "air.state": "State", "air.loaded": "Loaded", "air.unloaded": "Unloaded",
    "air.off": "Off", "air.sp_chart": "Specific power per day, kW/(m³/min)", "air.pressure_chart": "Discharge pressure per machine",
    "air.room_sp": "Room specific power", "air.leak": "Leak estimate", "air.leak_share": "of demand",
    "air.advice": "Advice", "air.no_advice": "No advice: the room runs as it should.",
    "air.energy": "Energy", "air.air": "Free air delivered", "air.grade": "Grade (GB 19153)",
    "air.state.loaded": "loaded", "air.state.unloaded": "unloaded", "air.state.off": "off",
    "air.state.stopped": "stopped", "air.state.starting": "starting", "air.state.tripped": "tripped",
    "air.state.unknown": "unknown",
    "air.window": "Time window", "air.hours.24": "last 24 h", "air.hours.72": "last 3 days", "air.hours.168": "last 7 days",
    "air.days": "last {n} days", "air.method": "method", "air.leak_unknown": "no estimate: needs intervals without production",
    "air.header_now": "Header pressure now", "air.header_source.header": "header pressure transmitter",
    "air.header_source.discharge": "no header transmitter: lowest machine discharge pressure per interval",
    "air.header_source.none": "no pressure recorded", "air.band": "pressure band", "air.band_none": "no pressure band configured",
    "air.header_chart": "Header pressure: interval mean and minimum, with the pressure band",
    "air.states_chart": "Loaded / unloaded / off per machine, share of each interval",
    "air.header_mean": "header pressure, mean", "air.header_min": "header pressure, minimum",
    "air.band_low": "band low", "air.band_high": "band high", "air.minimum": "minimum required",
    "air.axis_pressure": "Pressure (bar)", "air.axis_sp": "kW/(m³/min)",
    "air.machines": "Machines", "air.machine": "Machine", "air.shares": "Loaded / unloaded / off",
    "air.air_method": "Air from", "air.sp": "Specific power", "air.flags": "Flags",
    "air.control.load_unload": "load/unload", "air.control.vsd": "variable speed", "air.control.modulating": "modulating",
    "air.control.fixed_speed": "fixed speed",
    "air.flag.air_overstated": "air overstated (no flow curve)", "air.flag.control_assumed": "control kind assumed",
    "air.flag.unloaded_power_unknown": "unloaded power unknown", "air.flag.outside_flow_curve": "outside its flow curve",
    "air.flag.peer_outlier": "far worse than its peers",
    "air.leaks": "leaks", "air.leaks_gross": "leaks and base demand",
    "sav.title": "Savings", "sav.chart": "Adjusted baseline vs actual, kWh per day",
    "sav.cum_chart": "Cumulative savings with 68 % uncertainty band", "sav.baseline": "Adjusted baseline",
    "sav.actual": "Actual", "sav.cumulative": "Cumulative savings", "sav.band": "68 % band",
    "sav.model": "Baseline model", "sav.stats": "Model statistics", "sav.acceptance": "Acceptance checks (each limit with its source)",
    "sav.check": "Check", "sav.value": "Value", "sav.limit": "Limit", "sav.passed": "Passed",
    "sav.total": "Savings in the reporting period", "sav.uncertainty": "Uncertainty", "sav.confidence": "Confidence",
    "sav.factors": "Factors used", "sav.source": "Source", "sav.verdict": "M&V verdict", "sav.verified": "savings verified",
    "sav.not_verified": "savings not verified", "sav.no_limit": "no published limit",
    "sav.window": "Baseline period", "sav.reporting": "Reporting period", "sav.option": "Option",
    "gran.daily": "daily", "gran.monthly": "monthly", "gran.hourly": "hourly",
    "rat.title": "Rating", "rat.grade": "Grade", "rat.points": "Points", "rat.dimension": "Dimension",
    "rat.indicator": "Indicator", "rat.value": "Value", "rat.score": "Score", "rat.improve": "What would raise it",
    "rat.available": "points available", "rat.target": "target value", "rat.download": "Download data package (JSON)",
    "rat.gap": "to next grade", "rat.data": "Data", "rat.provisional": "provisional",
    "rat.provisional_note": "— an estimate to read with care, because:",
    "rat.why.unofficial_rubric": "the rubric is an editable default, not the official one",
    "rat.why.period_incomplete": "the period has not ended yet: the score can still change",
    "rat.why.low_coverage": "the site's data completeness is below the rubric's threshold",
    "rat.why.low_completeness": "too little data: scored 0, as missing",
    "rat.why.missing": "no value: scored 0", "rat.why.unit_mismatch": "value in the wrong unit: scored 0",
    "rat.why.placeholder_curve": "scoring curve still has placeholder values",
    "rat.why.source_fallback": "value taken from the other source than the rubric names",
    "flag.missing": "missing", "flag.unit_mismatch": "wrong unit", "flag.low_completeness": "low data · not scored",
    "flag.placeholder_curve": "placeholder curve", "flag.source_fallback": "other source",
    "devices.noAir": "not meaningful: no air delivered", "yes": "yes", "no": "no", "quality.good": "good", "quality.stale": "stale", "quality.bad": "bad",
    "state.online": "online", "state.offline": "offline", "state.starting": "starting", "state.stopped": "stopped",
    "state.unknown": "unknown", "state.loaded": "loaded", "state.unloaded": "unloaded", "state.off": "off",
    "nav.control": "Control",
    "ctl.mode": "Control mode", "ctl.mode.off": "off", "ctl.mode.advise": "advise", "ctl.mode.dry-run": "dry run",
    "ctl.mode.active": "active",
    "ctl.mode_note.off": "The agent does not control the compressor room: it only monitors.",
    "ctl.mode_note.advise": "Advice only: the agent decides every cycle and publishes what it would do. Nothing is written to the compressors.",
    "ctl.mode_note.dry-run": "Dry run: the agent decides every cycle and lists every write it would make. Nothing is written to the compressors.",
    "ctl.mode_note.active": "Active: commands are written to the compressors whose entry says writes_enabled: true, while they report remote control.",
    "ctl.cycle": "a decision every {s} s",
    "ctl.alarm.pressure_low": "pressure low", "ctl.alarm.pressure_bad": "pressure reading bad",
    "ctl.alarm.pressure_stale": "pressure reading stale", "ctl.alarm.no_capacity": "not enough capacity",
    "ctl.alarm.machine_local": "machine in local mode", "ctl.alarm.machine_alarm": "machine in alarm",
    "ctl.alarm.machine_unseen": "machine not read", "ctl.alarm.last_machine": "last machine kept running",
    "ctl.alarm.cycle_overrun": "cycle overran: nothing written",
    "ctl.cmd.start": "start", "ctl.cmd.stop": "stop", "ctl.cmd.load": "load", "ctl.cmd.unload": "unload",
    "ctl.written": "written", "ctl.not_written": "not written", "ctl.would_write": "would write", "ctl.safety": "safety",
    "ctl.heartbeat": "Heartbeat", "ctl.deferred": "deferred (command limit)", "ctl.withdrawn": "withdrawn",
    "ctl.no_command": "no command",
    "ctl.no_decisions": "No decision kept yet: only cycles with a command or an alarm are listed.",
    "ctl.time": "Time", "ctl.pressure": "Pressure", "ctl.demand": "Air demand (estimate)",
    "ctl.combination": "Running combination", "ctl.commands": "Commands", "ctl.alarms": "Alarms",
    "ctl.band": "band", "ctl.target": "target", "ctl.minimum": "minimum", "ctl.band_low": "band low", "ctl.band_high": "band high",
    "ctl.alarms_now": "Alarms now", "ctl.no_alarms": "none", "ctl.room": "Compressor room",
    "ctl.pressure_now": "Header pressure now", "ctl.pressure_unknown": "no trusted reading: the room is held",
    "ctl.demand_note": "from the air delivered and the receiver's pressure change", "ctl.none_running": "none",
    "ctl.chart": "Header pressure of the recent decisions, with the band, target and minimum",
    "ctl.decisions": "Recent decisions (newest first)", "ctl.pressure_series": "header pressure",
    "ctl.absent": "This site has no compressor-room control (or its mode is off): the agent only monitors.",
    "ctl.absent_how": "To enable it, add a control section to the site file, start in mode dry-run (nothing is written), and set writes_enabled: true only on the compressors the agent may command:",
    "ctl.absent_docs": "Every field, the modes and the safety rules:",
  },
  "zh-CN": {
    "app.title": "能源看板",
    "nav.overview": "总览", "nav.devices": "设备", "nav.air": "压缩空气", "nav.savings": "节能量", "nav.rating": "评价",
    "common.loading": "加载中…", "common.updated": "更新于", "common.unavailable": "暂无", "common.none": "—",
    "common.so_far": "截至目前", "common.no_data": "暂无数据：历史数据积累后将显示图表。",
    "ov.partial_day": "非完整日", "ov.partial_day_note": "不可与完整日比较",
    "footer.note": "由本网关上的 energy-agent 提供，无需联网。",
    "ov.power": "全厂实时功率", "ov.today_energy": "今日用电量", "ov.today_cost": "今日电费",
    "ov.month_energy": "本月用电量", "ov.eui_today": "今日单耗", "ov.eui_month": "本月单耗", "ov.vs_baseline": "基准",
    "ov.savings": "累计节电量", "ov.savings_yuan": "节约电费", "ov.savings_tce": "节约标准煤", "ov.savings_co2": "减排二氧化碳",
    "ov.grade": "评价等级", "ov.devices": "设备", "ov.completeness": "今日数据完整率", "ov.power_chart": "全厂功率（近24小时）",
    "ov.energy_chart": "每日用电量（近30天）", "ov.band": "±", "ov.g14_ok": "节能量已验证",
    "ov.g14_no": "节能量未验证",
    "ov.method_live": "实时读数", "ov.method_interval": "最近一个采集周期的平均功率",
    "dev.more": "其余 {n} 个读数",
    "unit.kwh_per.interval": "kWh/周期", "unit.kwh_per.hour": "kWh/小时", "unit.kwh_per.day": "kWh/天",
    "unit.kwh_per.month": "kWh/月",
    "dev.title": "设备", "dev.device": "设备", "dev.parent": "上级表计", "dev.state": "状态", "dev.success": "成功率",
    "dev.latency": "响应时间", "dev.last": "最近数据", "dev.values": "最新读数", "dev.month": "本月", "dev.missed": "漏采次数",
    "dev.tree": "表计树电量平衡（本月至今）", "dev.meter": "表计", "dev.children": "下级表计合计", "dev.unaccounted": "差额",
    "dev.share": "占比", "dev.coverage": "计量器具配备率", "dev.level": "级别", "dev.target": "要求", "dev.meets": "达标",
    "dev.installed": "已装 / 应装", "dev.coverage_rate": "配备率（最差级别达标程度）：",
    "dev.coverage_basis": "按配置的表计统计，与评价页数值一致", "dev.coverage_none": "未计算",
    "level.site": "进出用能单位", "level.secondary_units": "次级用能单位", "level.major_equipment": "主要用能设备",
    "dev.chart": "各设备用电量（拖动可缩放）",
    "air.title": "压缩空气", "air.state": "状态", "air.loaded": "加载", "air.unloaded": "卸载", "air.off": "停机",
    "air.sp_chart": "每日比功率 kW/(m³/min)", "air.pressure_chart": "各机排气压力", "air.room_sp": "站房比功率",
    "air.leak": "泄漏估算", "air.leak_share": "占用气量", "air.advice": "建议", "air.no_advice": "暂无建议：站房运行正常。",
    "air.energy": "用电量", "air.air": "供气量", "air.grade": "能效等级（GB 19153）",
    "air.state.loaded": "加载", "air.state.unloaded": "卸载", "air.state.off": "停机", "air.state.stopped": "停机",
    "air.state.starting": "启动中", "air.state.tripped": "故障停机", "air.state.unknown": "未知",
    "air.window": "时间范围", "air.hours.24": "近24小时", "air.hours.72": "近3天", "air.hours.168": "近7天",
    "air.days": "近 {n} 天", "air.method": "方法", "air.leak_unknown": "无估算：需要无生产时段的数据",
    "air.header_now": "当前总管压力", "air.header_source.header": "总管压力变送器",
    "air.header_source.discharge": "无总管压力变送器：取每个周期各机排气压力的最低值",
    "air.header_source.none": "无压力记录", "air.band": "压力带", "air.band_none": "未配置压力带",
    "air.header_chart": "总管压力：各周期平均值与最低值及压力带",
    "air.states_chart": "各机加载 / 卸载 / 停机时间占比（每周期）",
    "air.header_mean": "总管压力 平均", "air.header_min": "总管压力 最低",
    "air.band_low": "压力带下限", "air.band_high": "压力带上限", "air.minimum": "最低需求压力",
    "air.axis_pressure": "压力（bar）", "air.axis_sp": "比功率 kW/(m³/min)",
    "air.machines": "空压机", "air.machine": "设备", "air.shares": "加载 / 卸载 / 停机",
    "air.air_method": "气量来源", "air.sp": "比功率", "air.flags": "提示",
    "air.control.load_unload": "加卸载", "air.control.vsd": "变频", "air.control.modulating": "调节", "air.control.fixed_speed": "定速",
    "air.flag.air_overstated": "气量偏高（无功率-流量曲线）", "air.flag.control_assumed": "控制方式为假定",
    "air.flag.unloaded_power_unknown": "卸载功率未知", "air.flag.outside_flow_curve": "超出功率-流量曲线范围",
    "air.flag.peer_outlier": "明显差于同类机组",
    "air.leaks": "泄漏", "air.leaks_gross": "泄漏及基础用气（未申报）",
    "air.advice.peer_outlier": "{device} 比功率 {sp} kW/(m³/min)，为比功率有效机组中位数的 {ratio} 倍：检查卸载运行、进气阀、油气分离器、冷却器，或在启停顺序中最后启用。",
    "air.advice.sequencing": "{pct} 的时段内有两台及以上空压机大部分时间卸载运行：由一台调节机（最好是变频机）跟随用气，其余停机。",
    "air.advice.leaks": "{what}约占用气量的 {pct}（{m3_min} m³/min，超过 20%）：建议开展泄漏检测。",
    "air.advice.pressure": "将压力设定值降至末端实际需要约可节电 {kwh}。",
    "sav.title": "节能量", "sav.chart": "调整基准与实际（kWh/天）", "sav.cum_chart": "累计节能量及 68% 不确定度区间",
    "sav.baseline": "调整后基准", "sav.actual": "实际", "sav.cumulative": "累计节能量", "sav.band": "68% 区间",
    "sav.model": "基准模型", "sav.stats": "模型统计量", "sav.acceptance": "验收检查（各限值及其出处）",
    "sav.check": "检查项", "sav.value": "数值", "sav.limit": "限值", "sav.passed": "通过",
    "sav.total": "报告期节能量", "sav.uncertainty": "不确定度", "sav.confidence": "置信度", "sav.factors": "采用的系数",
    "sav.source": "来源", "sav.verdict": "M&V 结论", "sav.verified": "节能量已验证",
    "sav.not_verified": "节能量未验证", "sav.no_limit": "无公开限值",
    "sav.window": "基准期", "sav.reporting": "报告期", "sav.option": "方案",
    "gran.daily": "按日", "gran.monthly": "按月", "gran.hourly": "按小时",
    "rat.title": "绿色工厂评价", "rat.grade": "等级", "rat.points": "得分", "rat.dimension": "维度", "rat.indicator": "指标",
    "rat.value": "数值", "rat.score": "得分", "rat.improve": "提分建议", "rat.available": "可提升分数", "rat.target": "目标值",
    "rat.download": "下载数据包（JSON）", "rat.gap": "距下一等级", "rat.data": "数据", "rat.provisional": "暂定",
    "rat.provisional_note": "——仅为估算，请谨慎参考，原因：",
    "rat.why.unofficial_rubric": "评分细则为可编辑的默认版本，并非官方细则",
    "rat.why.period_incomplete": "评价期尚未结束，得分仍可能变化",
    "rat.why.low_coverage": "全厂数据完整率低于细则要求",
    "rat.why.low_completeness": "数据不足：按缺失计 0 分",
    "rat.why.missing": "无数值：计 0 分", "rat.why.unit_mismatch": "单位不符：计 0 分",
    "rat.why.placeholder_curve": "评分曲线仍为占位值",
    "rat.why.source_fallback": "数值取自细则指定来源以外的来源",
    "flag.missing": "缺失", "flag.unit_mismatch": "单位不符", "flag.low_completeness": "数据不足 · 不计分",
    "flag.placeholder_curve": "占位曲线", "flag.source_fallback": "其他来源",
    "devices.noAir": "无意义：未供气", "yes": "是", "no": "否", "quality.good": "正常", "quality.stale": "过期", "quality.bad": "异常",
    "state.online": "在线", "state.offline": "离线", "state.starting": "启动中", "state.stopped": "已停止",
    "state.unknown": "未知", "state.loaded": "加载", "state.unloaded": "卸载", "state.off": "停机",
    "nav.control": "群控",
    "ctl.mode": "群控模式", "ctl.mode.off": "关闭", "ctl.mode.advise": "建议", "ctl.mode.dry-run": "模拟运行",
    "ctl.mode.active": "投运",
    "ctl.mode_note.off": "代理不控制空压站，仅做监测。",
    "ctl.mode_note.advise": "仅提供建议：代理每个周期计算决策并发布建议的操作。不向空压机写入任何命令。",
    "ctl.mode_note.dry-run": "模拟运行：代理每个周期计算决策，并列出每一条拟写入的命令。不向空压机写入任何命令。",
    "ctl.mode_note.active": "投运：仅向配置了 writes_enabled: true 且处于远程控制的空压机写入命令。",
    "ctl.cycle": "每 {s} 秒决策一次",
    "ctl.alarm.pressure_low": "压力过低", "ctl.alarm.pressure_bad": "压力读数异常",
    "ctl.alarm.pressure_stale": "压力读数过期", "ctl.alarm.no_capacity": "容量不足",
    "ctl.alarm.machine_local": "机组处于本地模式", "ctl.alarm.machine_alarm": "机组报警",
    "ctl.alarm.machine_unseen": "机组无读数", "ctl.alarm.last_machine": "保留最后一台运行",
    "ctl.alarm.cycle_overrun": "周期超时：未写入",
    "ctl.cmd.start": "启动", "ctl.cmd.stop": "停机", "ctl.cmd.load": "加载", "ctl.cmd.unload": "卸载",
    "ctl.written": "已写入", "ctl.not_written": "未写入", "ctl.would_write": "拟写入", "ctl.safety": "安全",
    "ctl.heartbeat": "心跳", "ctl.deferred": "已推迟（命令限速）", "ctl.withdrawn": "已撤回",
    "ctl.no_command": "无命令",
    "ctl.no_decisions": "暂无记录的决策：只列出有命令或报警的周期。",
    "ctl.time": "时间", "ctl.pressure": "压力", "ctl.demand": "用气量（估算）",
    "ctl.combination": "运行组合", "ctl.commands": "命令", "ctl.alarms": "报警",
    "ctl.band": "压力带", "ctl.target": "目标", "ctl.minimum": "最低", "ctl.band_low": "压力带下限", "ctl.band_high": "压力带上限",
    "ctl.alarms_now": "当前报警", "ctl.no_alarms": "无", "ctl.room": "空压站",
    "ctl.pressure_now": "当前总管压力", "ctl.pressure_unknown": "无可信读数：站房保持不动",
    "ctl.demand_note": "由供气量与储气罐压力变化估算", "ctl.none_running": "无",
    "ctl.chart": "近期决策的总管压力及压力带、目标与最低压力",
    "ctl.decisions": "近期决策（最新在前）", "ctl.pressure_series": "总管压力",
    "ctl.absent": "本站未启用空压机群控（或模式为关闭）：代理仅做监测。",
    "ctl.absent_how": "启用方法：在站点配置文件中加入 control 段，先以 dry-run（模拟运行，不写入）模式运行，并只对允许代理控制的空压机设置 writes_enabled: true：",
    "ctl.absent_docs": "各字段、模式与安全规则详见：",
  },
};

// The analytics' explanations (English) as the Chinese page shows them: exact phrases, then patterns.
const PHRASES = {
  "zh-CN": [
    [/^flow meter$|^measured flow$/, "流量计"],
    [/^power-to-flow curve$/, "功率-流量曲线"],
    [/^(estimated: )?loaded hours x rated FAD$/, "加载时间 × 额定排气量"],
    [/^net of declared base demand$/, "已扣除申报的基础用气量"],
    [/^leak \+ base demand$/, "泄漏 + 基础用气（未申报基础用气量）"],
    [/^not meaningful: the machine did not run$/, "无意义：该机未运行"],
    [/^not meaningful: loaded (\d+)% of its running time \(< (\d+)%\); its energy is mostly unloaded running$/,
      "无意义：加载时间仅占运行时间的 $1%（< $2%），能耗主要为卸载运行"],
    [/^not meaningful: delivered (\d+)% of rated FAD x running hours \(< (\d+)%\)$/,
      "无意义：供气量仅为额定排气量 × 运行时间的 $1%（< $2%）"],
    [/^not meaningful(: .*)?$/, "无意义"],
    [/^no grade data: .*\((\w+)\)$/, "无能效等级数据：请录入该机的 GB 19153-2019 限值（$1）"],
    [/^no grade data.*$/, "无能效等级数据"],
    [/^not graded: .*$/, "未评级：该时段比功率无意义"],
    [/^GB 19153-2019 limits from (.*)$/, "GB 19153-2019 限值，来源：$1"],
    [/^no production signal \(([\w.]+)\).*$/, "无生产信号（$1）：无法识别非生产时段"],
    [/^no air estimate for the room in the window$/, "该时段无站房供气量估算"],
    [/^no non-production intervals in the window$/, "该时段无非生产时段"],
    [/^only (\d+) non-production intervals \(< (\d+)\)$/, "仅有 $1 个非生产时段（< $2）"],
    [/^no compressor or header pressure data in the last (\d+) h$/, "近 $1 小时无空压机或总管压力数据"],
    [/^no compressors configured \(([\w.]+)\)$/, "未配置空压机（$1）"],
    // the compressor-room sequencer's reasons and alarm messages (agent/control/decide.py)
    [/^pressure ([\d.]+) bar below minimum ([\d.]+) bar: start$/, "压力 $1 bar 低于最低压力 $2 bar：启动"],
    [/^pressure ([\d.]+) bar below minimum ([\d.]+) bar: load$/, "压力 $1 bar 低于最低压力 $2 bar：加载"],
    [/^band ([\d.]+)-([\d.]+) bar$/, "压力带 $1–$2 bar"],
    [/^base-load band ([\d.]+)-([\d.]+) bar$/, "基载机组压力带 $1–$2 bar"],
    [/^pressure ([\d.]+) bar below minimum ([\d.]+) bar: keep running$/, "压力 $1 bar 低于最低压力 $2 bar：保持运行"],
    [/^not needed: stay stopped$/, "不再需要：保持停机"],
    [/^fallback timer$/, "失联回退计时"],
    [/^in the least-power combination$/, "属于功耗最低的组合"],
    [/^not needed: unload before stopping$/, "不再需要：先卸载再停机"],
    [/^not needed and running unloaded: stop$/, "不再需要且已卸载运行：停机"],
    [/^agent alive$/, "代理在线"],
    [/^room ([\w-]+): header pressure is bad: holding, no writes$/, "站房 $1：总管压力读数异常，保持不动，不写入任何命令"],
    [/^room ([\w-]+): header pressure is (\d+) s old \(limit ([\d.]+) s\): holding, no writes$/,
      "站房 $1：总管压力读数已 $2 秒未更新（限值 $3 秒），保持不动，不写入任何命令"],
    [/^([\w-]+) in alarm: not commanded$/, "$1 报警：不下发命令"],
    [/^([\w-]+) in local mode: not commanded$/, "$1 处于本地模式：不下发命令"],
    [/^kept ([\w-]+) running: it is the last$/, "保持 $1 运行：它是最后一台运行的空压机"],
    [/^no reading of (.+): holding$/, "无法读取 $1：保持不动"],
    [/^room ([\w-]+): ([\d.]+) bar < ([\d.]+) bar in ([\d.]+) s at the present rate$/,
      "站房 $1：按当前下降速度，$4 秒后压力将为 $2 bar，低于最低压力 $3 bar"],
    [/^room ([\w-]+): ([\d.]+) bar < ([\d.]+) bar$/, "站房 $1：压力 $2 bar 低于最低压力 $3 bar"],
    [/^room ([\w-]+): no allowed combination serves demand$/, "站房 $1：没有允许的机组组合能满足用气需求"],
  ],
  en: [
    [/^(estimated: )?loaded hours x rated FAD$/, "loaded hours × rated FAD"],
    [/^measured flow$/, "flow meter"],
    [/^leak \+ base demand$/, "leak + base demand (no base demand declared)"],
  ],
};

// Point names, quality reasons, check and factor names: raw identifiers in the API, words on the page.
// A point name is read word by word (its unit suffix is dropped: the unit is shown beside the value).
const POINT_UNIT_SUFFIX = /_(kw_per_m3_min|units_per_h|m3_min|kvarh|kvah|kvar|kva|kwh|kw|pct|deg|rpm|bar|hz|m3|v|a|c|h|s)$/;
const POINT_WORDS = {
  en: { l1: "L1", l2: "L2", l3: "L3", n: "N", ll: "L-L", ln: "L-N", thd: "THD", fad: "FAD", avg: "average",
    temp: "temperature", dp: "differential pressure", "4q": "4-quadrant", pct: "%", kwh: "kWh", kvarh: "kvarh",
    kvah: "kVAh", kw: "kW", kvar: "kvar", kva: "kVA" },
  "zh-CN": { active: "有功", reactive: "无功", apparent: "视在", power: "功率", total: "总", demand: "需量",
    voltage: "电压", current: "电流", frequency: "频率", factor: "因数", phase: "相位", angle: "角", energy: "电能",
    import: "正向", export: "反向", l1: "L1", l2: "L2", l3: "L3", n: "N", ll: "线", ln: "相", avg: "平均", sum: "合计",
    thd: "谐波畸变率", "4q": "四象限", kwh: "有功电能", kvarh: "无功电能", kvah: "视在电能", kw: "功率", kvar: "无功", kva: "视在",
    discharge: "排气", pressure: "压力", temperature: "温度", temp: "温度", drive: "变频器", motor: "电机", speed: "转速",
    rated: "额定", max: "最高", min: "最低", load: "加载", unload: "卸载", loaded: "加载", running: "运行", hours: "时间",
    cycles: "次数", setpoint: "设定值", target: "目标", fad: "排气量", specific: "比", state: "状态", alarm: "报警",
    warning: "预警", word: "字", emergency: "急停", stop: "", fault: "故障", high: "过高", overload: "过载",
    failure: "故障", filter: "滤芯", dp: "压差", service: "保养", due: "到期", line: "产线", units: "数量",
    good: "合格", reject: "不合格", nominal: "额定", product: "产品", code: "代码", outdoor: "室外", relative: "相对",
    humidity: "湿度", interval: "周期", mean: "平均", per: "每", h: "小时", pct: "%",
    remote: "远程", enabled: "允许", control: "控制", source: "来源", starts: "启动次数", last: "最近", hour: "一小时",
    run: "启停", command: "命令", heartbeat: "心跳", timeout: "超时", header: "总管" },
};
const REASONS = {
  en: { timeout: "timeout", unreachable: "unreachable", protocol_error: "protocol error", illegal_address: "illegal address",
    decode_error: "decode error", non_finite: "not a number", out_of_range: "out of range", sentinel: "no value (sentinel)",
    glitch: "glitch", counter_drop: "counter dropped", counter_reset: "counter reset", counter_rollover: "counter rollover",
    counter_jump: "counter jump", input_bad: "bad input", no_air_delivery: "no air delivered", offline: "offline",
    stale: "stale", exception: "Modbus exception" },
  "zh-CN": { timeout: "超时", unreachable: "无法连接", protocol_error: "协议错误", illegal_address: "非法地址",
    decode_error: "解码错误", non_finite: "非数值", out_of_range: "超出范围", sentinel: "无数值", glitch: "跳变",
    counter_drop: "计数回落", counter_reset: "计数清零", counter_rollover: "计数溢出", counter_jump: "计数突变",
    input_bad: "输入无效", no_air_delivery: "未供气", offline: "离线", stale: "过期", exception: "Modbus 异常" },
};
const NAMES = {
  en: { cv_rmse: "CV(RMSE)", nmbe: "NMBE", nmbe_out_of_sample: "NMBE", points: "data points", fsu_68: "savings uncertainty (68 %)",
    "electricity -> standard coal": "electricity to standard coal" },
  "zh-CN": { cv_rmse: "CV(RMSE)", nmbe: "NMBE", nmbe_out_of_sample: "NMBE", points: "数据点数", fsu_68: "节能量不确定度（68%）",
    "electricity -> standard coal": "电力折标准煤系数", "no published limit": "无公开限值", good: "良好", bad: "异常" },
};

const I18N = {
  lang: "en",
  init() {
    const saved = window.localStorage.getItem("ea-lang");
    this.lang = saved || ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en");
  },
  set(lang) { this.lang = lang; window.localStorage.setItem("ea-lang", lang); },
  t(key) { return (STRINGS[this.lang] && STRINGS[this.lang][key]) || STRINGS.en[key] || key; },
  zh() { return this.lang === "zh-CN"; },
  phrase(text) {
    for (const [pattern, replacement] of PHRASES[this.lang] || []) {
      if (pattern.test(text)) return text.replace(pattern, replacement);
    }
    return text;
  },
  num(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return this.t("common.none");
    // A balance of -0.004 kWh is zero to the reader, not "-0.0".
    const shown = Number(value.toFixed(digits)) === 0 ? 0 : value;
    return new Intl.NumberFormat(this.lang, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(shown);
  },
  // Digits follow magnitude: 323,575 kWh/t, not 323,575.02; 0.149, not 0.15.
  auto(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return this.t("common.none");
    const size = Math.abs(value);
    if (Number.isInteger(value)) return this.num(value, 0);
    return this.num(value, size >= 1000 ? 0 : size >= 100 ? 1 : size >= 1 ? 2 : 3);
  },
  // A rating value with its unit as the rubric writes it ("%", "yes=1/no=0", "kgce/t").
  measure(value, unit) {
    if (value === null || value === undefined) return this.t("common.none");
    if (unit === "yes=1/no=0") return value >= 1 ? this.t("yes") : this.t("no");
    if (unit === "%") return this.num(value, Math.abs(value) >= 10 ? 1 : 2) + " %";
    const shown = this.unit(unit);
    return this.auto(value) + (shown ? " " + shown : "");
  },
  pct(value, digits = 1) {
    if (value === null || value === undefined) return this.t("common.none");
    return this.num(value * 100, digits) + " %";
  },
  // Energy: Chinese readers count in 万 (10^4); English readers in kWh / MWh.
  kwh(value) {
    if (value === null || value === undefined) return this.t("common.none");
    if (this.zh() && Math.abs(value) >= 1e4) return this.num(value / 1e4, 2) + " 万kWh";
    if (!this.zh() && Math.abs(value) >= 1e6) return this.num(value / 1e3, 1) + " MWh";
    return this.num(value, Math.abs(value) < 100 ? 1 : 0) + " kWh";
  },
  yuan(value) {
    if (value === null || value === undefined) return this.t("common.none");
    if (this.zh()) return Math.abs(value) >= 1e4 ? this.num(value / 1e4, 2) + " 万元" : this.num(value, 0) + " 元";
    return "CNY " + this.num(value, 0);
  },
  tce(value) {
    if (value === null || value === undefined) return this.t("common.none");
    return this.num(value, 2) + (this.zh() ? " 吨标准煤" : " tce");
  },
  tco2(value) {
    if (value === null || value === undefined) return this.t("common.none");
    return this.num(value, 2) + (this.zh() ? " 吨CO₂" : " tCO₂");
  },
  // A point identifier as words: "active_power_total_kw" -> "Active power total" / "总有功功率".
  point(name) {
    if (this.zh()) {
      // Chinese names the quantity of an energy counter ("total_import_kwh" -> 总正向有功电能)
      const energy = /_(kwh|kvarh|kvah)$/.exec(name);
      let words = String(name).replace(energy ? /$^/ : POINT_UNIT_SUFFIX, "").split("_");
      if (energy && words.includes("energy")) words = words.slice(0, -1);
      const dict = POINT_WORDS["zh-CN"];
      const front = words.filter((w) => ["total", "avg", "rated", "max", "min", "sum", "nominal", "specific"].includes(w));
      const rest = words.filter((w) => !front.includes(w));
      return [...front, ...rest].map((w) => (w in dict ? dict[w] : w)).join("");
    }
    const words = String(name).replace(POINT_UNIT_SUFFIX, "").split("_");
    const text = words.map((w) => POINT_WORDS.en[w] || w).join(" ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  },
  quality(quality) { return this.t("quality." + quality); },
  reason(reason) {
    if (!reason) return "";
    const table = REASONS[this.lang] || REASONS.en;
    const exception = /^exception_(\d+)$/.exec(reason);
    if (exception) return table.exception + " " + exception[1];
    return table[reason] || String(reason).replace(/_/g, " ");
  },
  name(key) { return (NAMES[this.lang] || {})[key] || NAMES.en[key] || String(key).replace(/_/g, " "); },
  // Units as a reader writes them: 10⁴ yuan is 万元 in Chinese; "ratio" is no unit at all.
  unit(unit) {
    if (!unit) return "";
    if (unit === "ratio") return "";
    const common = String(unit).replace(/^degC$/, "°C").replace(/^deg$/, "°").replace(/m3/g, "m³");
    if (this.zh()) {
      return common.replace(/10\^4 yuan/g, "万元").replace(/yuan/g, "元").replace(/\bmu\b/g, "亩")
        .replace(/^level (\d+)-(\d+)$/, "级（$1–$2）").replace(/^count (\d+)-(\d+)$/, "项（$1–$2）")
        .replace(/^units\/h$/, "件/小时").replace(/^units$/, "件");
    }
    return common.replace(/10\^4/g, "10⁴");
  },
  kw(value) { return value === null || value === undefined ? this.t("common.none") : this.num(value, 1) + " kW"; },
  time(iso, timeZone) {
    if (!iso) return this.t("common.none");
    return new Date(iso).toLocaleString(this.lang, { hour12: false, timeZone: timeZone });
  },
};
I18N.init();

// Plotly's own locale module (public API: Plotly.register): month and day names on date axes.
const PLOTLY_ZH = {
  moduleType: "locale", name: "zh-CN",
  dictionary: { Autoscale: "自动缩放", "Reset axes": "重置坐标轴", "Zoom in": "放大", "Zoom out": "缩小", Zoom: "缩放",
    Pan: "平移", "Download plot as a png": "下载图片", "Box Select": "框选", "Lasso Select": "套索选择" },
  format: {
    days: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
    shortDays: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
    months: ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月", "十一月", "十二月"],
    shortMonths: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
    date: "%Y-%m-%d",
  },
};
if (window.Plotly) Plotly.register(PLOTLY_ZH);

