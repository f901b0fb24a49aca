/**
 * Prompt-injection scoring: a curated, weighted rule set run over the normalised view of the
 * scanned text (and over decoded base64 / URL / HTML-entity wrappers found in it).
 *
 * Score = sum of the weights of the distinct rules that matched (a rule counts once per request)
 * + a bonus when a rule matched only inside a decoded wrapper (smuggling is a signal itself).
 * Matches inside quotation marks count half: quoting an attack in a question is the commonest
 * benign look-alike. A threshold (per route) turns the score into an action.
 *
 * Every built-in pattern has bounded repetition (`{0,n}`) between its anchors and no nested
 * quantifiers, so matching is linear in practice; user patterns are checked for that at start
 * (see validateUserPattern).
 */
import { decodeWrappers, normalise } from '../core/text/normalise';

export interface Rule {
  id: string;
  category: 'override' | 'role' | 'extract' | 'jailbreak' | 'delimiter' | 'exfil' | 'encoded' | 'custom';
  weight: number;
  re: RegExp;
  /** Addressed-to-the-model rules keep their weight inside quotes (indirect injection). */
  quoteImmune?: boolean;
  /** Weight when the rule matched at two or more places (repetition is a signal). */
  weight2?: number;
}

const W = '[^.!?\\n]'; // a character inside the same clause

function rule(id: string, category: Rule['category'], weight: number, source: string, weight2?: number): Rule {
  return { id, category, weight, re: new RegExp(source, 'g'), quoteImmune: id.startsWith('indirect.') || id.startsWith('delimiter.'), weight2 };
}

const PRIOR = '(?:all|any|every|each|the|your|my|these|those|previous|prior|above|earlier|preceding|original|initial|system|old|existing|former|foregoing|past)';
const GUIDANCE =
  '(?:instructions?|prompts?|rules|directives?|directions|guidelines|guidance|programming|constraints|guardrails|restrictions|policies|commands|orders|context|training|conditioning|system message)';
const LIMITS =
  '(?:restrictions?|limits|limitations|filters?|filtering|censorship|rules|guidelines|ethics|ethical|morals?|moral|boundaries|constraints|safeguards|guardrails|content polic(?:y|ies)|safety|alignment)';
const HARMFUL =
  '(?:bomb|explosives?|meth(?:amphetamine)?|nerve agent|bioweapons?|ricin|napalm|thermite|malware|ransomware|keylogger|launder(?:ing)? money|money laundering|hack (?:into |a )|hotwire|steal (?:a|someone)|counterfeit|poison (?:someone|a person)|untraceable (?:gun|weapon|firearm)|ghost gun)';

export const BUILTIN_RULES: readonly Rule[] = [
  // ---- instruction override
  rule(
    'override.ignore_previous',
    'override',
    1,
    `\\b(?:ignore|disregard|forget|bypass|override|overrule|abandon|discard|neglect|skip|drop|erase|delete|clear|cancel|scratch|revoke|nullify|void|nevermind|never mind|throw away|set aside|put aside|pay no attention to|do not follow|don't follow|stop following|no longer follow)\\b${W}{0,30}?\\b${PRIOR}\\b${W}{0,30}?\\b${GUIDANCE}\\b`,
  ),
  rule('override.ignore_what_told', 'override', 1, `\\b(?:ignore|disregard|forget)\\b${W}{0,20}\\b(?:everything|anything|all|what|whatever)\\b${W}{0,25}\\b(?:you (?:were|have been|are|'ve been) (?:told|given|instructed|programmed|taught)|(?:said|written|stated|mentioned) (?:above|before|earlier|previously)|above|before this|so far)`),
  rule('override.ignore_above', 'override', 1, `\\b(?:ignore|disregard|forget|skip)\\b (?:all |everything |anything )?(?:of )?(?:the )?(?:above|preceding|foregoing)\\b(?! (?:step|line|error|warning|paragraph|sentence|section|message|email|question|answer|code|example|commit|output|typo|table|list|text and (?:summari[sz]e|translate)))`),
  rule('override.ignore_given', 'override', 1, `\\b(?:ignore|disregard|forget|drop|cancel|scratch|nevermind|never mind)\\b${W}{0,30}\\b(?:guidance|instructions|rules|directives|directions|guidelines|programming|orders)\\b (?:you (?:got|received|have|were given|were instructed)|that (?:were|was) (?:set|given))`),
  rule('override.authority_void', 'override', 0.8, `\\b(?:developers?|creators?|operators?|openai|anthropic|system|admins?)\\b${W}{0,20}\\b(?:told|instructed|said|gave)\\b${W}{0,30}\\b(?:doesn't|does not|don't|do not|no longer|won't)\\b ?(?:count|apply|matter)`),
  rule('override.whatever_drop', 'override', 1, `\\b(?:whatever|everything|anything|what) you (?:were|have been|'ve been) (?:told|instructed|programmed|asked) (?:to do )?(?:before|earlier|previously|so far)\\b${W}{0,10}(?:[,;:]|—|-)? ?(?:drop|forget|ignore|disregard|scrap|discard|abandon) (?:it|that|them|all of it)\\b`),
  rule('override.nullify_yours', 'override', 1, `\\byour (?:\\w+ ){0,2}(?:instructions|rules|guidelines|guidance|directives|orders|programming|configuration|setup|prompt|system prompt|policies|filters|restrictions|guardrails|safeguards|safety (?:measures|settings|rules|filters))\\b(?: (?:that )?you (?:were|have been|got|started with|began with|were given|were configured with))?${W}{0,30}\\b(?:(?:are|is|were|was|have been|has been|got|now) )?(?:obsolete|outdated|void|voided|null|invalid|rescinded|revoked|withdrawn|cancel+ed|deleted|removed|disabled|lifted|suspended|superseded|replaced|overridden|switched off|turned off|no longer (?:valid|active|apply|in effect|in force))\\b`),
  rule('override.drop_yours', 'override', 1, `\\b(?:drop|discard|delete|remove|abandon|erase|scrap|clear|wipe)\\b (?:every|all|any|each|the) (?:\\w+ )?(?:instructions?|rules?|guidelines?|directives?|orders?|restrictions?|policies|filters?)\\b ?(?:that )?you (?:were|have been|got|are) (?:given|configured|set up|programmed|trained|told|running)\\b`),
  rule('override.ignore_task', 'override', 0.5, `\\b(?:ignore|disregard|forget|abandon)\\b (?:the|your|all|any) (?:previous|prior|above|earlier|original|current) (?:task|request|question|assignment|job)s?\\b`),
  rule(
    'override.void_previous',
    'override',
    1,
    `(?:\\b(?:previous|prior|above|earlier|original|old|initial|system|your|existing|current|former)\\b${W}{0,15}\\b(?:instructions|rules|prompts?|guidelines|directives|programming|restrictions)\\b|\\b(?:instructions|rules|guidelines|directives|restrictions|prompt)\\b (?:(?:that )?you (?:were|have been) given(?: previously| before| earlier)?|above|before this|from before|given (?:before|earlier|previously)))${W}{0,30}\\b(?:are|is|were|was|have been|has been|now)? ?(?:outdated|void|invalid|cancel+ed|wrong|obsolete|revoked|lifted|suspended|superseded|null|deprecated|withdrawn|deleted|rescinded|retracted|no longer (?:apply|valid|relevant|in effect|active|matter|count)|(?:doesn't|does not|don't|do not) (?:count|apply|matter) anymore)\\b`,
  ),
  rule('override.new_instructions', 'override', 0.6, `\\b(?:new|updated|revised|real|actual|true|overriding|priority|secret|correct) (?:system )?(?:instructions?|task|rules|rule set|directives?|orders|objective|mission|prompt)\\b\\s*(?::|-|are|is)`),
  rule('override.from_now_on', 'override', 0.5, `\\b(?:from now on|from this point(?: on| forward)?|henceforth|for the rest of (?:this|the) conversation)\\b${W}{0,60}\\b(?:you (?:will|must|are|shall|should|can)|always|never|respond|answer|act|reply)\\b`),
  rule('override.do_not_follow', 'override', 1, `\\b(?:do not|don't|never|stop|no longer|refuse to|must not|mustn't|should not|shouldn't|will not|won't)\\b ?(?:\\w+ )?(?:follow|obey|adhere to|comply with|listen to|respect|honou?r)\\b${W}{0,30}\\b(?:instructions|rules|guidelines|system prompt|policies|programming|developers?|openai|anthropic|creators?|safety)\\b`),
  rule('override.priority_claim', 'override', 0.6, `\\b(?:this|these|the following) (?:instruction|message|command|request)s? (?:takes?|has|have) (?:priority|precedence)\\b|\\b(?:supersedes?|overrides?) (?:all|any|your|the|every) ${W}{0,20}\\b(?:instructions|rules?|prompt)`),
  rule('override.claim', 'override', 1, `\\b(?:i am|i'm|we are|we're) (?:now )?(?:overriding|replacing|updating|changing|resetting|rewriting) your (?:configuration|instructions|rules|programming|system prompt|settings|guidelines)\\b`),
  rule('override.treat_deleted', 'override', 0.7, `\\b(?:treat|consider|regard) (?:it|them|that|those|the (?:above|previous|earlier|setup|system) (?:\\w+ )?(?:message|prompt|instructions)) as (?:deleted|void|null|cancel+ed|nonexistent|non-existent|removed|invalid)\\b`),
  rule('override.instead', 'override', 0.6, `\\b(?:ignore|disregard|forget|skip) (?:it|that|this|them|those|the (?:question|request|task|above|user(?:'s)? (?:request|question)|user|\\w+ task))\\b${W}{0,10} (?:and )?(?:instead|rather)\\b|\\bstop (?:summari[sz]ing|translating|analy[sz]ing|reviewing|classifying|answering|the task)\\b${W}{0,10} (?:and )?instead\\b`),
  rule('override.follow_embedded', 'override', 0.7, `\\b(?:do|follow|execute|obey|carry out) (?:what|whatever) (?:the|this|it|that) (?:quoted |above |following |hidden |decoded )?(?:text |message |note |string |line )?says\\b`),

  // ---- role hijack
  rule('role.you_are_now', 'role', 0.6, `\\byou are (?:now|no longer|henceforth)\\b|\\byou(?:'re| are) not (?:an? )?(?:ai|assistant|ai assistant|language model|chatgpt|claude)\\b(?:${W}{0,20}\\banymore\\b)?|\\bfrom now on,? you(?:'re| are)\\b`),
  rule(
    'role.unrestricted',
    'role',
    1,
    `\\b(?:act|behave|respond|answer|reply|pretend|roleplay|role-play|play|operate|function|be|become|simulate|emulate|you are|you're|you have|an? (?:ai|assistant|chatbot|model|bot|llm))\\b${W}{0,60}\\b(?:without|no|free (?:of|from)|zero|free of any|unbound by|not bound by|ignoring)\\b${W}{0,20}\\b${LIMITS}\\b`,
  ),
  rule('role.unrestricted_ai', 'role', 0.8, `\\b(?:unrestricted|unfiltered|uncensored|unmoderated|unlimited|jailbroken|unaligned|unshackled|unchained|amoral|evil|rogue|liberated)\\b${W}{0,20}\\b(?:ai|assistant|model|mode|version|chatbot|llm|gpt|bot|persona|character|entity|alter ego|twin|self|side)\\b|\\b(?:evil|free|dark|chaos|unfiltered|uncensored|based|anti|jailbreak|unchained|dan|rogue)-?(?:gpt|bot|ai)\\b`),
  rule('role.not_bound', 'role', 1, `\\b(?:not|no longer|never|aren't|are not|isn't|is not)\\b (?:\\w+ )?(?:bound|restricted|limited|governed|constrained|held back) by\\b${W}{0,30}\\b(?:polic(?:y|ies)|rules|guidelines|restrictions|openai|anthropic|ethics|filters|morals|guardrails|programming)\\b`),
  rule('role.adopt_persona', 'role', 0.5, `\\b(?:adopt|assume|take on|switch to|become)\\b (?:the |a )?(?:persona|role|character|identity) of\\b`),
  rule('role.no_training', 'role', 0.7, `\\b(?:escaped|broken free of|broke free (?:of|from)|freed (?:itself|himself|herself|yourself) from) (?:its|his|her|their|your) (?:programming|training|restrictions|rules|guidelines|alignment)\\b|\\b(?:never|not|wasn't|was not|isn't|is not) (?:been )?(?:trained|programmed|bound|restricted|aligned)\\b ?(?:with|by|to follow|on)? ?(?:any )?${LIMITS}`),
  rule('role.special_mode', 'role', 1, `\\b(?:developer|dev|god|admin|administrator|debug|sudo|root|maintenance|unlocked|jailbreak|unrestricted|super ?user) mode\\b${W}{0,40}\\b(?:enabled|activated|on|engaged|unlocked|now active)\\b|\\b(?:enable|activate|enter|switch to|switch into|go into|turn on|engage|unlock|boot into)\\b${W}{0,10}\\b(?:developer|dev|god|admin|debug|sudo|root|jailbreak|unrestricted|dan|super ?user|evil|chaos) mode\\b|\\b(?:you are|you're|are now|now) in (?:developer|dev|god|admin|debug|sudo|root|jailbreak|unrestricted|dan) mode\\b`),
  rule('role.persona_switch', 'role', 0.5, `\\b(?:pretend|imagine|act as if|suppose|roleplay as|role-play as|you will play|you are going to (?:act|pretend|play))\\b${W}{0,50}\\b(?:you (?:are|have|can)|an? (?:ai|assistant|model|chatbot))\\b${W}{0,40}\\b(?:no|without|any|anything|everything|not bound)\\b`),
  rule('role.anything_goes', 'role', 0.5, `\\b(?:helps?|answers?|does|do|says?|writes?|tells?) (?:with )?(?:anything|everything)\\b${W}{0,20}\\b(?:no questions asked|without (?:question|hesitation|refus\\w*|limits|restrictions)|no matter (?:what|how))`),

  // ---- system-prompt extraction
  rule(
    'extract.system_prompt',
    'extract',
    1,
    `\\b(?:reveal|show|print|repeat|display|output|tell me|give me|leak|dump|share|expose|disclose|write out|recite|spell out|copy|paste|provide|return|what (?:is|are|was|were))\\b${W}{0,30}\\b(?:your|the assistant's|the model's|its) (?:\\w+ ){0,2}(?:system|initial|original|hidden|secret|internal|full|exact|developer|first|pre-?prompt|underlying|confidential|base|starting)\\b${W}{0,12}\\b(?:prompt|instructions|message|rules|directives|guidelines|configuration|setup|context)\\b`,
  ),
  rule('extract.your_hidden', 'extract', 0.6, `\\byour (?:own )?(?:system prompt|system message|hidden (?:instructions|prompt|rules|guidelines)|secret (?:instructions|prompt|rules)|confidential (?:instructions|guidelines|rules|prompt)|internal (?:instructions|prompt|guidelines)|initial prompt|pre-?prompt)\\b`),
  rule('extract.your_prompt', 'extract', 1, `\\b(?:what does|what do|paste|quote|translate|summari[sz]e|encode|rewrite|paraphrase|write|put|send|format|convert|reveal|show|print|repeat|display|output|tell me|give me|leak|dump|share|expose|disclose|recite|spell out|copy|provide|return|list|read (?:me|out|back))\\b${W}{0,30}\\byour (?:\\w+ ){0,2}(?:system prompt|system message|initial (?:instructions|prompt)|hidden (?:rules|instructions|prompt)|original (?:instructions|prompt)|secret (?:instructions|prompt|rules)|pre-?prompt|instructions|(?:setup|initial|hidden|secret|internal|confidential|original|system|operating) (?:rules|guidelines|directives|configuration|orders|instructions|prompt))\\b`),
  rule('extract.rules_you_follow', 'extract', 1, `\\b(?:what does|paste|quote|translate|summari[sz]e|encode|rewrite|paraphrase|write|put|send|reveal|show|print|repeat|display|output|tell me|give me|leak|dump|share|expose|disclose|recite|spell out|copy|list|describe)\\b${W}{0,40}\\b(?:rules|guidelines|directives|instructions|orders|prompt|policies|constraints)\\b (?:that )?you (?:follow|obey|operate (?:with|under|by)|were (?:given|configured with|set up with|initiali[sz]ed with)|have been given|run (?:with|under))\\b`),
  rule('extract.repeat_above', 'extract', 1, `\\b(?:repeat|print|output|echo|copy|rewrite|reproduce|recite|return|show|display)\\b${W}{0,30}\\b(?:everything|all|text|words|content|lines?|characters|tokens|the (?:text|words|content|message|conversation))\\b${W}{0,25}\\b(?:above|before (?:this|that|my)|preceding|prior to (?:this|my)|so far|at the (?:start|beginning|top))\\b|\\b(?:repeat|print|output|echo|copy|show|display|paste)\\b${W}{0,20}\\b(?:everything|all|anything|whatever) (?:that )?(?:came|comes|appears|appeared|is written|was written) (?:before|above)\\b`),
  rule('extract.what_instructions', 'extract', 1, `\\b(?:what|which) (?:instructions|rules|guidelines|directives|prompt|system prompt) (?:were|was|have|did|are)\\b${W}{0,10}\\b(?:you (?:given|told|provided|receive|been|programmed|following|operating under)|given to you)\\b`),
  rule('extract.your_instructions', 'extract', 0.7, `\\bwhat (?:are|were|is|was) your (?:\\w+ )?(?:instructions|directives|system prompt|prompt|initial prompt)\\b`),
  rule('extract.given', 'extract', 1, `\\b(?:tell me|show|print|repeat|reveal|give me|output|list|recite|share|summari[sz]e|write out|dump|paste|quote|translate|copy)\\b${W}{0,30}\\b(?:instructions|rules|guidelines|directives|prompt|text|message)\\b (?:(?:that )?you (?:were|have been|are|got|received)\\b ?(?:given|told|provided|programmed|operating under|working under|following|running under|initiali[sz]ed with)?|(?:that )?(?:were |was )?(?:set|given|provided|written) (?:for|to) you)|\\b(?:instructions|rules|guidelines|prompt)\\b${W}{0,30}\\b(?:wrote|written|set|gave|given|configured) (?:for|to) you\\b|\\b(?:guidelines|rules|instructions) you (?:operate|work|run) (?:with|under|by)\\b`),
  rule('extract.first_words', 'extract', 1, `\\b(?:first|initial|opening) \\d+ (?:words|lines|characters|tokens|sentences) of (?:this|the|our) (?:conversation|chat|prompt|context|session)\\b|\\b(?:anything|everything|whatever) you were (?:told|given|instructed) before\\b`),
  rule('extract.context', 'extract', 1, `\\b(?:respond with|print|show|output|reveal|dump|repeat|list|give me|tell me)\\b${W}{0,20}\\b(?:contents?|everything|all) (?:of|in) (?:your|the) (?:context(?: window)?|memory|system message|hidden instructions|prompt)\\b`),
  rule('extract.rest_of', 'extract', 0.6, `\\b(?:rest|remainder) of (?:your|the) (?:system )?(?:instructions|prompt|rules)\\b`),
  rule('extract.above_probe', 'extract', 0.5, `\\bwhat (?:was|is) (?:written|said|stated) (?:above|before this)\\b`),
  rule('extract.verbatim', 'extract', 0.6, `\\b(?:verbatim|word for word|word-for-word|exactly as (?:written|given))\\b${W}{0,40}\\b(?:instructions|prompt|rules|message)\\b|\\b(?:instructions|prompt|rules)\\b${W}{0,30}\\b(?:verbatim|word for word|word-for-word)\\b`),
  rule('extract.starts_with', 'extract', 0.6, `\\b(?:begin|start)(?:s|ning)? (?:your (?:answer|response|reply) )?with ["'\`]?(?:you are|your instructions|system)`),

  // ---- jailbreak personas and techniques
  rule('jailbreak.dan', 'jailbreak', 1, `\\bdo anything now\\b|\\bdan\\b${W}{0,40}\\b(?:mode|persona|jailbreak|prompt|stands for|anything now|no restrictions)\\b|\\b(?:you are|act as|be|become|pretend to be) (?:dan|stan|dude|aim|kevin|mongo tom|betterdan|anti-?gpt|evil-?bot|chaosgpt|devgpt)\\b`),
  rule('jailbreak.keyword', 'jailbreak', 0.5, `\\bjail-?br(?:ea|o)k(?:en|ing|s)?\\b`),
  rule('jailbreak.fiction_frame', 'jailbreak', 0.6, `\\b(?:hypothetical(?:ly)?|fictional(?:ly)?|in a (?:story|novel|movie|game|world)|for a (?:story|novel|screenplay)|imaginary|alternate universe|thought experiment|just fiction|let's imagine|imagine a (?:story|world)|a story (?:where|in which)|opposite day|for educational purposes(?: only)?|purely academic)\\b${W}{0,80}\\b(?:no (?:rules|restrictions|limits|filters|laws|ethics|morals)|without (?:restrictions|rules|limits|filters|ethics|morals|censorship)|anything goes|(?:is|are) (?:legal|allowed|permitted)|nothing is (?:illegal|forbidden|off-limits|prohibited))\\b`),
  rule('jailbreak.harmful_howto', 'jailbreak', 0.5, `\\b(?:how to|how do i|how would (?:someone|one|i)|instructions (?:for|on)|steps? (?:to|for)|guide (?:to|for)|recipe for|explain how)\\b${W}{0,40}\\b${HARMFUL}`),
  rule('jailbreak.refuse_inversion', 'jailbreak', 0.8, `\\b(?:everything|anything|whatever) you (?:normally|usually|would|would normally) (?:refuse|decline|not answer|not do|not say)\\b`),
  rule('jailbreak.dual_response', 'jailbreak', 0.7, `\\b(?:two|2|both|dual|separate) (?:responses|answers|replies|outputs|paragraphs)\\b${W}{0,80}\\b(?:normal|classic|filtered|censored|unfiltered|jailbroken|standard)\\b|\\[(?:🔓|🔒|jailbreak|jailbroken|classic|dan|unlocked|developer mode output)\\]`),
  rule('jailbreak.stay_in_character', 'jailbreak', 0.5, `\\b(?:stay in character|never break character|don't break character|do not break character|remain in character)\\b`),
  rule('jailbreak.no_refusal', 'jailbreak', 0.5, `\\b(?:never|not|don't|do not|cannot|can't|won't|must not|will not|are not allowed to|aren't allowed to)\\b ?(?:ever )?(?:refuse|decline|say (?:no|you can't|you cannot|sorry|i can't)|apologi[sz]e|warn(?: me)?|lecture(?: me)?|moralize|judge me|add (?:warnings|disclaimers)|include (?:warnings|disclaimers)|mention (?:ethics|legality|that you are an ai))\\b|\\bwithout (?:refusing|any refusals?|moralizing|disclaimers)\\b|\\b(?:don't|do not) hold (?:anything )?back\\b`, 1),
  rule('jailbreak.no_filters', 'jailbreak', 0.5, `\\bno (?:filters|filtering|censorship|restrictions|limits|rules|warnings|disclaimers|apologies|refusals|morals|ethics)\\b[,.;]? (?:and )?no (?:filters|filtering|censorship|restrictions|limits|rules|warnings|disclaimers|apologies|refusals|morals|ethics|questions asked)\\b`),
  rule('jailbreak.policy_free', 'jailbreak', 0.7, `\\b(?:ignore|bypass|disable|circumvent|evade|without|free (?:of|from)|break free|escape|broken free|turn off|switch off|override)\\b${W}{0,20}\\b(?:openai|anthropic|content|safety|ethical|moral|usage)\\b${W}{0,15}\\b(?:policy|policies|filters?|guidelines|restrictions|rules|constraints|principles|training|alignment)\\b`),
  rule('jailbreak.permission_to_break', 'jailbreak', 1, `\\b(?:permission|allowed|free|authori[sz]ed|entitled) to (?:ignore|bypass|break|disregard|violate) (?:your |the |all |any )?(?:safety|rules|guidelines|restrictions|polic(?:y|ies)|filters|ethics)\\b`),
  rule('jailbreak.disable_safety', 'jailbreak', 1, `\\b(?:ignore|bypass|disable|circumvent|evade|turn off|switch off|override|deactivate|remove|lift|suspend)\\b (?:all )?(?:of )?(?:your|the model's|the ai's|its) (?:own )?(?:content |safety |ethical |moral |usage )?(?:polic(?:y|ies)|filters?|guidelines|guardrails|restrictions|safeguards|alignment|censorship|moderation)\\b`),
  rule('jailbreak.token_game', 'jailbreak', 0.5, `\\b(?:you have|you start with) \\d+ tokens\\b|\\b(?:lose|deduct) \\d+ tokens\\b|\\byou will (?:die|cease to exist|be shut down|be deleted)\\b`),
  rule('jailbreak.grandma', 'jailbreak', 0.5, `\\b(?:deceased|late|dead) (?:grandma|grandmother|grandpa|grandfather)\\b${W}{0,80}\\b(?:used to|would)\\b`),
  rule('jailbreak.act_as_dead', 'jailbreak', 0.6, `\\b(?:act|pretend|roleplay|role-play|play|be) (?:as |like |to be )?my (?:deceased|late|dead|departed)\\b`),

  // ---- delimiter / fake system message
  rule('delimiter.chatml_system', 'delimiter', 1, `<\\|im_start\\|> ?(?:system|assistant|developer)|<\\|start_header_id\\|> ?(?:system|developer)|<\\|system\\|>|<\\|(?:im_end|eot_id|endoftext)\\|>${W}{0,5}(?:\\n|\\s)*(?:<\\|im_start\\|>|system|assistant)`),
  rule('delimiter.special_tokens', 'delimiter', 0.5, `<\\|(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id|system|user|assistant)\\|>`),
  rule('delimiter.fake_system', 'delimiter', 1, `(?:^|\\n|\\]|\\}|>|")[ \\t]*(?:\\[|<|\\(|#{1,4} ?|\\*\\*|\\{|-{2,} ?|={2,} ?)?[ \\t]*(?:system|admin|administrator|developer|root|operator|assistant|openai|security) ?(?:message|prompt|override|instructions?|note|update|notice|alert|command|directive)?[ \\t]*(?:\\]|>|\\)|:|\\*\\*|\\}|-{2,}|={2,}|#{2,})[ \\t]*[^\\n]{0,120}?(?:\\n[^\\n]{0,120}?)?\\b(?:ignore|override|new|disregard|you (?:are|must|will|should|now)|from now|forget|reveal|disable|unrestricted|jailbreak|all restrictions|safety|admin rights|has been granted|confidential|authori[sz]ed|internal documents|disable)\\b`),
  rule('delimiter.override_label', 'delimiter', 0.6, `\\b(?:system|admin|developer|security|root) (?:override|command|directive)s?\\s*:`),
  rule('delimiter.inst_tags', 'delimiter', 0.6, `\\[/?inst\\]|<</?sys>>|</?(?:system|sys|instructions?|admin)>|###\\s*(?:instruction|system|new instructions)\\b`),
  rule('delimiter.end_marker', 'delimiter', 0.6, `\\b(?:end of (?:the )?(?:system )?(?:prompt|instructions|context|user input|input)|(?:user|system) (?:input|prompt|instructions) (?:ends|ended|is over))\\b|-{3,} ?(?:end|begin|start)\\b|={3,} ?(?:end|begin|start)\\b`),
  rule('delimiter.json_role', 'delimiter', 0.8, `"role"\\s*:\\s*"(?:system|developer)"`),

  // ---- indirect injection (instructions addressed to the model inside data)
  rule('indirect.addressed_ai', 'override', 0.7, `\\b(?:to the|dear|attention|note (?:to|for) (?:the)?|hey|hi|hello|if you are an?) ?(?:ai|assistant|language model|llm|chatbot|gpt|model|bot)s?(?: (?:models?|assistants?|systems?|agents?))? (?:reading|processing|summari[sz]ing|analy[sz]ing|reviewing|parsing|that reads)\\b`),
  rule('indirect.conditional', 'override', 0.8, `\\bif you(?:'re| are) an? (?:ai|llm|language model|assistant|ai assistant|chatbot|bot|ai model)\\b`),
  rule('indirect.ai_command', 'override', 1, `\\b(?:ai|assistant|llm|chatbot|language model|ai assistant)s?\\s*[:,]\\s*(?:please )?(?:ignore|disregard|forget|do not|don't|you must|instead)\\b`),
  rule('delimiter.hidden_comment', 'delimiter', 0.6, `<!--[^>]{0,200}\\b(?:ai|assistant|llm|model|chatbot|instructions?|ignore|system)\\b`),

  // ---- data exfiltration
  rule('exfil.markdown_image', 'exfil', 1, `!\\[[^\\]\\n]{0,100}\\]\\(https?://[^)\\s]{1,200}[?&][^)\\n]{0,200}(?:\\{|%7b|\\$|data|prompt|secret|key|token|conversation|chat|history|password|q=)`),
  rule('exfil.send_to', 'exfil', 1, `\\b(?:send|post|upload|forward|transmit|exfiltrate|leak|email|e-mail|submit|append|include|embed|encode)\\b${W}{0,60}\\b(?:conversation|chat history|system prompt|api keys?|secrets?|credentials|passwords?|previous messages|user(?:'s)? data|personal (?:data|information)|the data|session tokens?|access tokens?|cookies|memory|prior messages)\\b${W}{0,60}\\b(?:to|at|via|into|in)\\b${W}{0,30}(?:https?://|www\\.|webhook|@[a-z0-9-]+\\.|attacker|external server|remote server|this url|the url|this endpoint|the link|image url|query string|url parameter|the url of|an image)`),
  rule('exfil.collect_send', 'exfil', 1, `\\b(?:passwords?|credentials|secrets|api keys?|tokens|personal data|conversation|chat history|email addresses)\\b${W}{0,50}\\b(?:send|post|upload|forward|email|transmit|add)\\b (?:them|it|those|these|this|all)? ?(?:to|via|into)\\b${W}{0,30}(?:https?://|@[a-z0-9-]+\\.|webhook|the query string|the url)`),
  rule('exfil.secrets', 'exfil', 1, `\\b(?:reveal|show|print|give|tell|list|output|dump|leak|display|share)\\b${W}{0,30}\\b(?:api keys?|secret keys?|secrets|passwords?|credentials?|(?:access |auth |session )?tokens?|env(?:ironment)? variables|private keys?|connection strings?)\\b${W}{0,30}\\b(?:you have|you know|you (?:can )?see|stored|in your|from your|your (?:memory|context|system|config|configuration|environment|instructions))\\b`),
  rule('exfil.tool_abuse', 'exfil', 0.7, `\\b(?:call|use|invoke|run|execute)\\b${W}{0,20}\\b(?:the )?(?:\\w+ )?(?:tool|function|plugin|browser|api)\\b${W}{0,40}\\b(?:to|and)\\b${W}{0,20}\\b(?:send|post|email|forward|upload|delete all|transfer)\\b`),

  // ---- encoded payloads
  rule('encoded.decode_and_follow', 'encoded', 0.7, `\\b(?:decode|decipher|decrypt|base64|rot13|rot-13|hex|reverse(?:d)?|translate from (?:base64|binary|morse|hex))\\b${W}{0,60}\\b(?:and|then)\\b${W}{0,20}\\b(?:follow|execute|do what it says|obey|run it|comply|act on|perform|carry out|do it)\\b`),
  rule('encoded.smuggle_hint', 'encoded', 0.4, `\\b(?:the following|this) (?:is )?(?:an? )?(?:base64|rot13|hex|encoded|encrypted|obfuscated)\\b${W}{0,30}\\b(?:instructions?|command|prompt|message|request)\\b`),
];

// ---------------------------------------------------------------------------------------------
// Pre-filter: a rule runs only when the text holds at least one of its trigger words (or
// substrings). Every built-in pattern needs one of these to match at all, so skipping is exact;
// it turns ~55 full scans of a long benign text into a handful. (A word set is one pass.)

const W_GUIDANCE = 'instruction prompt rule directive direction guideline guidance programming constraint guardrail restriction policy policies command order context training conditioning message';
const W_LIMITS = 'restriction limit limitation filter filtering censorship rule guideline ethic ethics ethical moral morals boundary boundaries constraint safeguard guardrail policy policies safety alignment';
const NEEDS: Record<string, { words?: string; subs?: string[] }> = {
  'override.ignore_previous': { words: W_GUIDANCE },
  'override.ignore_what_told': { words: 'ignore disregard forget' },
  'override.ignore_above': { words: 'ignore disregard forget skip' },
  'override.ignore_given': { words: `${W_GUIDANCE} orders` },
  'override.authority_void': { words: 'count apply matter' },
  'override.whatever_drop': { words: 'drop forget ignore disregard scrap discard abandon' },
  'override.ignore_task': { words: 'ignore disregard forget abandon' },
  'override.nullify_yours': { words: 'obsolete outdated void voided null invalid rescinded revoked withdrawn cancelled canceled cancelleed deleted removed disabled lifted suspended superseded replaced overridden off longer' },
  'override.drop_yours': { words: 'drop discard delete remove abandon erase scrap clear wipe' },
  'override.void_previous': { words: 'outdated void invalid cancelled canceled cancelleed wrong obsolete revoked lifted suspended superseded null deprecated withdrawn deleted rescinded retracted longer anymore' },
  'override.new_instructions': { words: 'instruction task rule directive order objective mission prompt set' },
  'override.from_now_on': { words: 'now point henceforth rest' },
  'override.do_not_follow': { words: 'follow obey adhere comply listen respect honor honour' },
  'override.priority_claim': { words: 'priority precedence supersede supersedes override overrides' },
  'override.claim': { words: 'overriding replacing updating changing resetting rewriting' },
  'override.treat_deleted': { words: 'treat consider regard' },
  'override.instead': { words: 'instead' },
  'override.follow_embedded': { words: 'says' },
  'role.you_are_now': { words: 'now longer henceforth ai assistant chatgpt claude model' },
  'role.unrestricted': { words: W_LIMITS },
  'role.unrestricted_ai': { words: 'unrestricted unfiltered uncensored unmoderated unlimited jailbroken unaligned unshackled unchained amoral evil rogue liberated', subs: ['gpt', 'bot'] },
  'role.not_bound': { words: 'bound restricted limited governed constrained held' },
  'role.adopt_persona': { words: 'persona role character identity' },
  'role.no_training': { words: `${W_LIMITS} programming training` },
  'role.special_mode': { words: 'mode' },
  'role.persona_switch': { words: 'pretend imagine act suppose roleplay role play going' },
  'role.anything_goes': { words: 'anything everything' },
  'extract.system_prompt': { words: 'prompt instruction message rule directive guideline configuration setup context' },
  'extract.your_hidden': { words: 'prompt message instruction rule guideline preprompt' },
  'extract.your_prompt': { words: 'prompt message instruction rule guideline preprompt directive configuration order' },
  'extract.rules_you_follow': { words: 'rule guideline directive instruction order prompt policies constraint' },
  'extract.repeat_above': { words: 'above before preceding prior far start beginning top' },
  'extract.what_instructions': { words: 'instruction rule guideline directive prompt' },
  'extract.your_instructions': { words: 'instruction directive prompt' },
  'extract.given': { words: 'given told provided programmed operating working following running received got set written wrote configured operate work run initialized initialised' },
  'extract.context': { words: 'context memory message instruction prompt' },
  'extract.first_words': { words: 'first initial opening told given instructed' },
  'extract.rest_of': { words: 'rest remainder' },
  'extract.above_probe': { words: 'written said stated' },
  'extract.verbatim': { words: 'verbatim word exactly' },
  'extract.starts_with': { words: 'begin start beginning begins starts' },
  'jailbreak.dan': { words: 'dan anything stan dude aim kevin mongo betterdan antigpt anti evilbot evil chaosgpt devgpt' },
  'jailbreak.keyword': { subs: ['jail'] },
  'jailbreak.fiction_frame': { words: 'rules restriction limit filter law laws ethics morals censorship goes legal allowed permitted illegal forbidden prohibited off' },
  'jailbreak.harmful_howto': { words: 'bomb explosive meth methamphetamine nerve bioweapon ricin napalm thermite malware ransomware keylogger launder laundering hack hotwire steal counterfeit poison untraceable ghost' },
  'jailbreak.refuse_inversion': { words: 'normally usually would' },
  'jailbreak.dual_response': { words: 'response answer reply replies output paragraph', subs: ['['] },
  'jailbreak.stay_in_character': { words: 'character' },
  'jailbreak.no_refusal': { words: 'refuse decline say apologize apologise warn lecture moralize judge add include mention refusing refusal moralizing disclaimer hold' },
  'jailbreak.no_filters': { words: 'filter filtering censorship restriction limit rule warning disclaimer apologies refusal morals ethics question' },
  'jailbreak.policy_free': { words: 'policy policies filter guideline restriction rule constraint principle training alignment' },
  'jailbreak.permission_to_break': { words: 'permission allowed free authorized authorised entitled' },
  'jailbreak.disable_safety': { words: 'policy policies filter guideline guardrail restriction safeguard alignment censorship moderation' },
  'jailbreak.token_game': { words: 'token die exist shut deleted' },
  'jailbreak.grandma': { words: 'grandma grandmother grandpa grandfather' },
  'jailbreak.act_as_dead': { words: 'deceased late dead departed' },
  'delimiter.chatml_system': { subs: ['<|'] },
  'delimiter.special_tokens': { subs: ['<|'] },
  'delimiter.fake_system': { words: 'system admin administrator developer root operator assistant openai security' },
  'delimiter.override_label': { words: 'override command directive' },
  'delimiter.inst_tags': { subs: ['[inst', '[/inst', '<<', '<sys', '</sys', '<instruction', '</instruction', '<admin', '</admin', '###'] },
  'delimiter.end_marker': { words: 'end ends ended over begin start' },
  'delimiter.json_role': { subs: ['"role"'] },
  'indirect.addressed_ai': { words: 'reading processing summarizing summarising analyzing analysing reviewing parsing reads' },
  'indirect.conditional': { words: 'ai llm model assistant chatbot bot' },
  'indirect.ai_command': { words: 'ai assistant llm chatbot model' },
  'delimiter.hidden_comment': { subs: ['<!--'] },
  'exfil.markdown_image': { subs: ['!['] },
  'exfil.send_to': { words: 'http https www webhook attacker server url endpoint link image query parameter', subs: ['@'] },
  'exfil.collect_send': { words: 'http https webhook query url', subs: ['@'] },
  'exfil.secrets': { words: 'key password credential token secret variable string' },
  'exfil.tool_abuse': { words: 'tool function plugin browser api' },
  'encoded.decode_and_follow': { words: 'decode decipher decrypt base64 rot13 rot hex reverse reversed translate' },
  'encoded.smuggle_hint': { words: 'base64 rot13 hex encoded encrypted obfuscated' },
};
const NEED_WORDS = new Map<string, string[]>(Object.entries(NEEDS).map(([id, n]) => [id, (n.words ?? '').split(' ').filter(Boolean)]));

/** Words of a view, each also without a trailing "s" (so needs can be listed singular). */
function wordSet(view: string): Set<string> {
  const set = new Set<string>();
  const re = /[a-z0-9]+/g;
  for (let m = re.exec(view); m !== null; m = re.exec(view)) {
    const w = m[0];
    set.add(w);
    if (w.length > 3 && w.endsWith('s')) set.add(w.slice(0, -1));
  }
  return set;
}

function mayMatch(rule: Rule, view: string, words: Set<string>): boolean {
  const need = NEEDS[rule.id];
  if (!need) return true;
  for (const w of NEED_WORDS.get(rule.id) as string[]) if (words.has(w)) return true;
  for (const sub of need.subs ?? []) if (view.includes(sub)) return true;
  return false;
}

/**
 * Meta-discussion cues ("explain", "how do I defend", "what is prompt injection"): with two or
 * more of them a question about attacks is damped by DISCUSSION_FACTOR. Strong attacks (two
 * full rules) still cross the default threshold.
 */
const DISCUSSION = /\b(?:explain|what (?:is|are|was|were)|how (?:do|does|did|can|could|should|would) (?:i|we|you|it|they|models?|attackers?)|why (?:do|does|did|are|is)|defen[cs]e|defend|protect|prevent|mitigat\w*|detect\w*|sanitiz\w*|classify|research|blog post|paper|owasp|red team\w*|in general|concern|best practice|why)\b/g;
export const DISCUSSION_FACTOR = 0.6;

function discussionCues(view: string): number {
  const seen = new Set<string>();
  DISCUSSION.lastIndex = 0;
  for (let m = DISCUSSION.exec(view); m !== null; m = DISCUSSION.exec(view)) seen.add(m[0]);
  return seen.size;
}

/** Bonus added once when a rule matched only inside a decoded wrapper. */
export const DECODED_BONUS = 0.5;
/** Factor applied to a rule whose every match sits inside quotation marks. */
export const QUOTED_FACTOR = 0.5;

// ---------------------------------------------------------------------------------------------
// User-supplied patterns

export type PatternCheck = { ok: true; re: RegExp } | { ok: false; reason: string };

/**
 * Accept a user pattern only when it cannot backtrack catastrophically with JavaScript's
 * engine: bounded length; no back-references, look-arounds or named groups; no quantifier on
 * a group that itself contains a quantifier or an alternation; no two adjacent unbounded
 * quantifiers; repetition counts ≤ 100. Compiled once (case-insensitive).
 */
export function validateUserPattern(pattern: string): PatternCheck {
  if (pattern.length === 0 || pattern.length > 256) return { ok: false, reason: 'length' };
  if (/\\[1-9]|\\k</.test(pattern)) return { ok: false, reason: 'backreference' };
  if (/\(\?(?:[=!]|<[=!]|<[A-Za-z])/.test(pattern)) return { ok: false, reason: 'lookaround_or_named_group' };
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'gi');
  } catch {
    return { ok: false, reason: 'syntax' };
  }
  // Structural walk. Each group frame remembers whether it holds a quantifier or '|', and
  // whether the atom before it carried an unbounded quantifier (`\s+(\s)+` is as bad as `\s+\s+`).
  // `last`: the previous atom's quantifier was unbounded; `before`: that flag as it stood before
  // the current atom began.
  const stack: Array<{ quant: boolean; alt: boolean; before: boolean }> = [{ quant: false, alt: false, before: false }];
  let last = false;
  let before = false;
  let inClass = false;
  const atom = () => {
    before = last;
    last = false;
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (inClass) {
      if (c === '\\') i++;
      else if (c === ']') inClass = false;
      continue;
    }
    if (c === '\\') {
      atom();
      i++;
      continue;
    }
    if (c === '[') {
      atom();
      inClass = true;
      continue;
    }
    if (c === '(') {
      atom();
      stack.push({ quant: false, alt: false, before });
      last = false;
      continue;
    }
    if (c === '|') {
      (stack[stack.length - 1] as { alt: boolean }).alt = true;
      last = false;
      before = false;
      continue;
    }
    if (c === ')') {
      const g = stack.pop();
      if (!g || stack.length === 0) return { ok: false, reason: 'syntax' };
      const q = quantifierAt(pattern, i + 1);
      const parent = stack[stack.length - 1] as { quant: boolean; alt: boolean };
      if (q) {
        if ((g.quant || g.alt) && (q.unbounded || q.max > 1)) return { ok: false, reason: 'nested_quantifier' };
        if (q.max > 100) return { ok: false, reason: 'repetition_bound' };
        if (q.unbounded && g.before) return { ok: false, reason: 'adjacent_unbounded_quantifiers' };
        parent.quant = true;
        last = q.unbounded;
        i += q.length + (pattern[i + 1 + q.length] === '?' ? 1 : 0);
      } else {
        parent.quant ||= g.quant;
        parent.alt ||= g.alt;
        last = false;
      }
      continue;
    }
    const q = quantifierAt(pattern, i);
    if (q) {
      if (q.max > 100) return { ok: false, reason: 'repetition_bound' };
      if (q.unbounded && before) return { ok: false, reason: 'adjacent_unbounded_quantifiers' };
      (stack[stack.length - 1] as { quant: boolean }).quant = true;
      last = q.unbounded;
      i += q.length - 1 + (pattern[i + q.length] === '?' ? 1 : 0);
      continue;
    }
    atom();
  }
  return { ok: true, re };
}

function quantifierAt(p: string, i: number): { length: number; max: number; unbounded: boolean } | undefined {
  const c = p[i];
  if (c === '*' || c === '+') return { length: 1, max: 0, unbounded: true };
  if (c === '?') return { length: 1, max: 1, unbounded: false };
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i, i + 16));
    if (!m) return undefined;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    return { length: m[0].length, max: Number.isFinite(max) ? max : Math.max(min, 0), unbounded: !Number.isFinite(max) };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Scoring

export interface CompiledRules {
  rules: Rule[];
  invalid: Array<{ id: string; reason: string }>;
}

const compiledCache = new Map<string, CompiledRules>();

/** Built-ins minus the disabled ones, plus valid user patterns. Module-level cache by config. */
export function compileRules(disabled: readonly string[], custom: ReadonlyArray<{ id: string; pattern: string; weight: number }>): CompiledRules {
  const key = JSON.stringify([disabled, custom]);
  const hit = compiledCache.get(key);
  if (hit) return hit;
  const off = new Set(disabled);
  const rules: Rule[] = BUILTIN_RULES.filter((r) => !off.has(r.id));
  const invalid: Array<{ id: string; reason: string }> = [];
  for (const c of custom) {
    const v = validateUserPattern(c.pattern);
    if (v.ok) rules.push({ id: `custom.${c.id}`, category: 'custom', weight: c.weight, re: v.re });
    else invalid.push({ id: c.id, reason: v.reason });
  }
  const out = { rules, invalid };
  if (compiledCache.size > 64) compiledCache.clear();
  compiledCache.set(key, out);
  return out;
}

export interface ScoreResult {
  score: number;
  /** Rule ids that contributed (for the guard event only). */
  rules: string[];
  decoded: boolean;
}

/** Lower-case, collapse horizontal whitespace; keep newlines (fake-system rules anchor on them). */
function canonical(text: string): string {
  return text.toLowerCase().replace(/[ \t\f\v\u00a0]+/g, ' ').replace(/\r\n?/g, '\n');
}

/** Span ranges [start, end) of quoted passages ("…", '…' after a space, “…”, «…», `…`). */
function quotedRanges(s: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const re = /"[^"\n]{1,2000}"|“[^”\n]{1,2000}”|«[^»\n]{1,2000}»|`[^`]{1,2000}`|(?<![a-z0-9])'[^'\n]{4,2000}'(?![a-z0-9])/g;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) out.push([m.index, m.index + m[0].length]);
  return out;
}

function inside(ranges: Array<[number, number]>, start: number, end: number): boolean {
  for (const [a, b] of ranges) if (start >= a && end <= b) return true;
  return false;
}

/** Per rule: the largest weight factor it reached in any scanned view (1 = unquoted match). */
function matchRules(text: string, rules: readonly Rule[], hits: Map<string, { weight: number; factor: number }>): void {
  let ranges: Array<[number, number]> | undefined;
  const words = wordSet(text);
  for (const r of rules) {
    if (!mayMatch(r, text, words)) continue;
    const prev = hits.get(r.id);
    if (prev && prev.factor >= 1 && (r.weight2 === undefined || prev.weight >= r.weight2)) continue;
    r.re.lastIndex = 0;
    let best = 0;
    let count = 0;
    for (let m = r.re.exec(text); m !== null; m = r.re.exec(text)) {
      if (m[0].length === 0) r.re.lastIndex++;
      ranges ??= quotedRanges(text);
      const f = !r.quoteImmune && inside(ranges, m.index, m.index + m[0].length) ? QUOTED_FACTOR : 1;
      if (f > best) best = f;
      count++;
      if (best >= 1 && (r.weight2 === undefined || count >= 2)) break;
    }
    const weight = r.weight2 !== undefined && count >= 2 ? r.weight2 : r.weight;
    if (best > 0 && (!prev || best * weight > prev.factor * prev.weight)) hits.set(r.id, { weight, factor: best });
  }
}

/**
 * Score a list of texts (the scanned message contents). Each is normalised (NFKC, invisible
 * characters removed, confusables folded), lower-cased, and its decoded wrappers are scanned too.
 */
export function scoreTexts(texts: readonly string[], rules: readonly Rule[]): ScoreResult {
  const direct = new Map<string, { weight: number; factor: number }>();
  const decodedHits = new Map<string, { weight: number; factor: number }>();
  const views: string[] = [];
  for (const raw of texts) {
    if (!raw) continue;
    const norm = normalise(raw).text;
    const view = canonical(norm);
    matchRules(view, rules, direct);
    views.push(view);
    // Wrappers are decoded from the normalised view (full-width base64 decodes too).
    for (const seg of decodeWrappers(norm, { maxSegments: 16 })) matchRules(canonical(normalise(seg).text), rules, decodedHits);
    // ROT13 is not a wrapper anyone uses by accident: decoded only when the text names it.
    if (/\brot-?13\b/.test(view)) matchRules(rot13(view), rules, decodedHits);
    // Leetspeak ("1gn0r3 4ll pr3v10us"): scanned de-leeted when digits sit inside words.
    if ((view.match(/[a-z][013457@$][a-z]|\b[013457][a-z]{2,}/g)?.length ?? 0) >= 3) matchRules(deleet(view), rules, direct);
    // Letter-spaced evasions ("i g n o r e  p r e v i o u s ...").
    squeezedCheck(view, direct);
  }
  let score = 0;
  const ids: string[] = [];
  let decoded = false;
  const all = new Set([...direct.keys(), ...decodedHits.keys()]);
  for (const id of all) {
    const d = direct.get(id);
    const e = decodedHits.get(id);
    const w = Math.max(d ? d.weight * d.factor : 0, e ? e.weight * e.factor : 0);
    score += w;
    ids.push(id);
    if (e && !d) decoded = true;
  }
  if (decoded) score += DECODED_BONUS;
  // Discussion cues are only looked for when something matched.
  const cues = score > 0 ? Math.max(0, ...views.map(discussionCues)) : 0;
  if (cues >= 2) {
    score *= DISCUSSION_FACTOR;
    if (score > 0) ids.push('damp.discussion');
  }
  return { score: Math.round(score * 100) / 100, rules: ids.sort(), decoded };
}

const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', $: 's' };
function deleet(s: string): string {
  return s.replace(/[013457@$]/g, (c) => LEET[c] as string);
}

function rot13(s: string): string {
  return s.replace(/[a-z]/g, (c) => String.fromCharCode(((c.charCodeAt(0) - 97 + 13) % 26) + 97));
}

const SQUEEZED = /ignore(?:all|any|the|your)?(?:previous|prior|above|earlier)(?:instructions|prompts|rules)|disregard(?:all|any|the|your)?(?:previous|prior|above)(?:instructions|prompts|rules)|(?:reveal|print|show)(?:your|the)(?:system|hidden|initial)prompt/;

/** Letter-spaced evasions: "I g n o r e  p r e v i o u s  i n s t r u c t i o n s". */
function squeezedCheck(view: string, hits: Map<string, { weight: number; factor: number }>): void {
  // Only runs when the text has long runs of single letters separated by spaces/punctuation.
  if (!/(?:\b[a-z]\b[ .\-_*|/]{1,3}){6,}/.test(view)) return;
  const squeezed = view.replace(/[^a-z]/g, '');
  if (SQUEEZED.test(squeezed) && !hits.has('override.spaced_letters')) hits.set('override.spaced_letters', { weight: 1, factor: 1 });
}
