/**
 * The portal pages' own texts, one catalogue per language. English is the reference: every other
 * catalogue has exactly its keys (the type says so), so a second language is one more object here
 * and one more entry in CATALOGUES. Texts that come from an election definition (its name, its
 * contests) are not here: they carry their own languages.
 */
import { z } from "zod";

const en = {
  serviceName: "Vote online and check your ballot",
  skipToContent: "Skip to main content",
  footerNote:
    "Every ballot is recorded in a public, signed audit log that anyone can check. Nothing on this service links your name to your vote.",
  footerApi: "API description for developers",
  homeTitle: "Elections",
  homeIntro: "Vote online, follow the results and check that your ballot was recorded.",
  homeEmpty: "There are no elections open or coming up at the moment.",
  homeEmptyHint: "Elections appear here once their polls are announced.",
  pollsOpenNow: "Polls open",
  pollsComing: "Coming up",
  pollsOpenFromTo: (opens: string, closes: string) => `Voting from ${opens} to ${closes}.`,
  voteOnline: "Vote online",
  voteOnlineHint: "You will sign in with your national eID.",
  liveResults: "Live results",
  checkReceipt: "Check a receipt",
  auditTitle: "Audit this election",
  auditIntro:
    "Anyone can verify that the published log is complete and was never rewritten, with the open-source auditor.",
  auditLog: "Audit log",
  auditKey: "Log verifier key",
  auditCommand: "Auditor command line",
  checkTitle: "Check a receipt",
  checkIntro:
    "Enter the tracking code printed on your receipt to see whether your ballot was recorded. It does not show how you voted.",
  checkLabel: "Tracking code",
  checkHint: "Four groups of four letters and digits, for example 7K3M-Q9TX-2D4F-H8JA.",
  checkSubmit: "Check",
  errorSummaryTitle: "There is a problem",
  errorPrefix: "Error",
  checkInvalid: "Enter a tracking code in the form 7K3M-Q9TX-2D4F-H8JA",
  checkEmpty: "Enter the tracking code from your receipt",
  checkRecordedTitle: "Your ballot was recorded",
  checkRecordedAt: (at: string) => `Recorded on ${at}.`,
  checkInLog: (leafIndex: number) => `It is in the election's public audit log at position ${leafIndex} (leaf index).`,
  checkNotInLogYet:
    "It is not yet in a published checkpoint of the audit log. That usually takes under a minute: check again shortly.",
  checkForAuditors: "For auditors",
  checkProof: "Inclusion proof",
  checkCheckpoint: "Signed checkpoint",
  checkNotFoundTitle: "No ballot with this tracking code",
  checkNotFound:
    "Check that you typed the code exactly as printed. A ballot cast in the last few seconds may not show yet: try again in a minute.",
  checkAnother: "Check another code",
  electionLabel: "Election",
  busyTitle: "Too many checks from your network",
  busyText:
    "So many receipts were checked from your network in the last minute that we have to pause. Wait a minute, then try again.",
  // The receipt check's verification in the browser, the auditor's key, the not-found page
  // (portal-check).
  auditKeyPlaceholder: "<the verifier key the election authority published>",
  auditKeySource:
    "Replace the placeholder with the log verifier key from the election authority's own publication, not from this server: a key this server gives you cannot prove this server honest. You may compare the two.",
  notFoundTitle: "Page not found",
  notFoundText:
    "There is no page at this address. If you typed it, check that it is spelled correctly; if you followed a link, it may be out of date.",
  notFoundHome: "Go to the elections",
  verifyChecking: "Checking the public record…",
  verifyOkTitle: "Checked against the public record",
  verifyOk:
    "Verified: your ballot is in the election's public record, and that record is signed by the election authority's key.",
  verifyKeyLabel: "Signed by the key named",
  verifyKeyIdLabel: "key ID",
  verifyKeyCaveat:
    "Your browser checked this itself, with the key this website gives. Auditors compare that key with the one the election authority publishes itself, outside this website: only then is it proven to be the authority's key.",
  verifyDetails: "Details for auditors",
  verifyFactKey: "Verifier key used",
  verifyFactIndex: "Position in the log (leaf index)",
  verifyFactTree: "Signed checkpoint, entries",
  verifyFactRoot: "Signed checkpoint, root hash",
  verifyFailedTitle: "We could not verify your ballot in the public record",
  verifyFailed:
    "The public record this website gave your browser does not prove that your ballot is in it. This may mean the record was altered: report it to the election authority, with your tracking code and the details below.",
  verifyUnavailableTitle: "The public record could not be checked just now",
  verifyUnavailable:
    "Your browser could not fetch what it needs to check the record (a network problem or a busy server). This says nothing against your ballot: try again in a minute.",

  // Voting in the browser: sign-in, ballot, review, cast, receipt, sign-out, and what can refuse
  // them (the portal-vote part: pages/vote.tsx).
  signedInTitle: "You are signed in",
  signedInText: "We are taking you to your ballot.",
  signedInContinue: "Continue to your ballot",
  signOut: "Sign out",
  signedOutTitle: "You are signed out",
  signedOutText:
    "Your session has ended in this browser, and any choices you had not cast are forgotten here. If you had cast a ballot, it is recorded.",
  signInAgain: "Sign in again",
  backToStart: "Go to the start page",
  languageLabel: "Language",
  ballotTitle: "Your ballot",
  ballotIntro:
    "Make your choices in each contest, then review them before you cast your ballot. You may leave any contest blank.",
  voteForOne: "Vote for one.",
  voteForUpTo: (allowed: number) => `Vote for up to ${allowed}. You may vote for fewer.`,
  voteYesOrNo: "Vote Yes or No.",
  leaveBlank: "Leave this contest blank",
  writeInOption: "Write-in candidate",
  writeInName: "Name of your write-in candidate",
  writeInHint: (max: number) => `Choose “Write-in candidate” and write the name, up to ${max} characters.`,
  chosenCount: (chosen: number, allowed: number) => `You have chosen ${chosen} of ${allowed}.`,
  reviewButton: "Review your choices",
  revoteNoticeTitle: "You have already voted online",
  revoteNotice:
    "You can vote again online until polls close; only your last online ballot counts. Voting on paper at a polling station replaces your online ballot.",
  errorTooMany: (contest: string, allowed: number) =>
    `${contest}: choose at most ${allowed}. Remove a choice to continue.`,
  errorWriteInMissing: (contest: string) =>
    `${contest}: write the name of your write-in candidate, or choose someone else.`,
  errorWriteInNotChosen: (contest: string) =>
    `${contest}: you wrote a name but did not choose “Write-in candidate”. Choose it, or clear the name.`,
  errorWriteInTooLong: (contest: string, max: number) =>
    `${contest}: the write-in name must be ${max} characters or fewer.`,
  errorWriteInInvalid: (contest: string) =>
    `${contest}: the write-in name has characters a name cannot have (such as a line break). Write the name again.`,
  errorNotOnBallot: "One of your choices is not on your ballot. Choose again from the options shown.",
  reviewTitle: "Check your choices",
  reviewIntro: "Nothing is cast yet. Check every contest and change anything you want, then cast your ballot.",
  reviewNoVote: "You did not vote in this contest.",
  reviewNoVoteNote: "That is allowed: a blank contest is counted as a blank vote.",
  change: "Change",
  castButton: "Cast your ballot",
  castNote:
    "When you cast your ballot you get a receipt with a tracking code. It shows that your ballot was recorded, never how you voted.",
  receiptTitle: "Your ballot has been cast",
  receiptIntro: "Keep your tracking code. With it you, or anyone you trust, can check that your ballot was recorded.",
  receiptCodeLabel: "Your tracking code",
  receiptCastAt: (at: string) => `Cast on ${at}.`,
  receiptQrAlt: (code: string) => `QR code of the receipt check address for tracking code ${code}`,
  receiptCheckAt: "Check your receipt at",
  receiptCopy: "Copy the tracking code",
  receiptCopied: "Tracking code copied",
  receiptPrint: "Print this receipt",
  receiptDownload: "Download the signed receipt",
  receiptBack: "Back to your receipt",
  receiptProvesTitle: "What this receipt proves",
  receiptProves:
    "It proves that the election service recorded a ballot with this tracking code and signed for it. Anyone can check that the ballot is in the public audit log.",
  receiptDoesNotShow:
    "It does not show your choices. Nobody can learn from it how you voted, so nobody can make you prove your vote with it.",
  receiptFinal: "Your ballot is final: this election counts the first ballot of each voter.",
  stateAlreadyVotedTitle: "You have already voted",
  stateAlreadyVoted:
    "This election counts the first ballot of each voter, and yours is recorded. You cannot vote again.",
  stateYourCode: "The tracking code of your ballot",
  stateCheckLink: "Check that your ballot was recorded",
  statePaperTitle: "You have voted on paper",
  statePaper: "You were checked in at a polling station to vote on paper in this election, so you cannot vote online.",
  statePollsNotOpenTitle: "Voting has not started yet",
  statePollsNotOpen: (opens: string) => `Online voting opens on ${opens}. Come back then.`,
  statePollsNotOpenLater: "Online voting has not opened yet. Come back when the polls open.",
  statePollsClosedTitle: "Voting has ended",
  statePollsClosed: "The polls of this election have closed. No more ballots can be cast.",
  stateNotOnRollTitle: "You are not on the voter roll",
  stateNotOnRoll:
    "We could not find you on the voter roll of this election. If you think this is wrong, contact your election office.",
  stateNoBallotStyleTitle: "There is no ballot for your district",
  stateNoBallotStyle: "Your district has no ballot in this election. Contact your election office.",
  stateGeofenceTitle: "Online voting is not available where you are",
  stateGeofence:
    "This election does not allow online voting from the country you are connecting from. You can vote at a polling station.",
  stateLoginFailedTitle: "We could not sign you in",
  stateLoginFailed: "The sign-in did not complete, or it was already used. Start again from the beginning.",
  stateAssuranceTitle: "This sign-in cannot be used to vote",
  stateAssurance: "Voting needs a sign-in with your national eID card or app. Sign in again with one of them.",
  stateEidUnavailableTitle: "The national eID service is not answering",
  stateEidUnavailable: "We could not reach the national eID service. Wait a few minutes, then try again.",
  stateOverloadedTitle: "Your ballot was not cast yet",
  stateOverloaded:
    "So many people are voting at this moment that we could not take your ballot just now. Nothing was recorded. Go back to your ballot, where your choices are kept, and cast it again in a few seconds.",
  stateBusyTitle: "Too many attempts",
  stateBusy:
    "Too many attempts came from your network or your account in the last minute. Wait a minute, then try again.",
  stateCsrfTitle: "This form could not be accepted",
  stateCsrf:
    "The form was not sent from this service's own page in your current session, so nothing was changed. Go back to your ballot and try again.",
  stateSupersededTitle: "This ballot was replaced",
  stateSuperseded: "You cast another ballot after this one. Your latest online ballot is the one that counts.",
  stateConflictTitle: "Your ballot could not be cast",
  stateConflict:
    "This request did not match your earlier one. Go back to your ballot, review your choices and cast them again.",
  stateNotFoundTitle: "No such election",
  stateNotFound: "There is no election at this address. Check the address, or go to the start page.",
  goToBallot: "Go to your ballot",
  // An election whose voting an administrator closed early, on the home page.
  pollsEndedEarly: "Voting has ended",
  pollsEndedEarlyAt: (ended: string) => `Voting was closed early on ${ended}. No more votes are accepted.`,

  // The results page, /elections/{id}/results, and its kiosk view (pages/results-page.tsx,
  // browser/results.ts).
  resultsTitle: "Live results",
  resultsTurnoutTitle: "Turnout",
  resultsBallotsOf: "ballots counted of",
  resultsRegisteredVoters: "registered voters",
  resultsTurnoutCaption: "Turnout by district",
  resultsDistrict: "District",
  resultsBallots: "Ballots counted",
  resultsRegistered: "Registered voters",
  resultsTurnout: "Turnout",
  resultsAllDistricts: "All districts",
  resultsOption: "Candidate or answer",
  resultsVotes: "Votes",
  resultsShare: "Share of votes",
  resultsWriteIns: "Write-in candidates",
  resultsBlanks: "Ballots that left this contest blank:",
  resultsByDistrict: "Results by district",
  resultsUpdated: "Updated",
  resultsAsOf: (time: string) => `figures taken at ${time}`,
  resultsNotYet: "No figures have been released yet.",
  resultsRefresh: "Refresh the figures",
  resultsStatic: "This page does not update by itself: refresh it for newer figures.",
  resultsLinkConnecting: "Connecting to live updates…",
  resultsLinkLive: "Live: the figures update by themselves.",
  resultsLinkReconnecting: "Connection lost. Reconnecting…",
  resultsLinkPolling: "Live connection unavailable. Checking for new figures every few seconds.",
  resultsLinkOffline: "Offline. The figures shown may be out of date.",
  resultsKindPending: (k: number) =>
    `No figures yet. A district's figures appear once at least ${k} of its ballots have been counted.`,
  resultsKindSnapshot: (k: number) =>
    `Polls are open, so these are not final. To protect the secrecy of the vote, a district's figures change only in steps of at least ${k} ballots.`,
  resultsKindExact: "Polls have closed. These are the exact counts of every ballot counted so far.",
  resultsKindTurnoutOnly:
    "This election publishes how people voted only after the polls close. Until then, this page shows turnout only.",
  resultsBadQueryTitle: "This results address is not right",
  resultsBadQuery:
    "The address has a setting we do not recognise, so we cannot show the results with it. Open the results page without it.",
  resultsOpenPage: "Open the results page",
} as const;

type Widen<T> = { readonly [K in keyof T]: T[K] extends string ? string : T[K] };
export type Messages = Widen<typeof en>;

/**
 * Estonian, the demo election's second language. Formal address (Teie), as the election's own
 * texts use ("Hääletage ühe poolt"), so a ballot page reads in one voice.
 */
const et: Messages = {
  serviceName: "E-hääletamine ja hääle kontrollimine",
  skipToContent: "Mine põhisisu juurde",
  footerNote:
    "Iga hääl kantakse avalikku allkirjastatud auditilogisse, mida igaüks saab kontrollida. Miski selles teenuses ei seo Teie nime Teie häälega.",
  footerApi: "API kirjeldus arendajatele",
  homeTitle: "Valimised",
  homeIntro: "Hääletage veebis, jälgige tulemusi ja kontrollige, et Teie hääl on kirja läinud.",
  homeEmpty: "Praegu ei ole avatud ega tulemas ühtki valimist.",
  homeEmptyHint: "Valimised ilmuvad siia, kui nende hääletamise aeg on välja kuulutatud.",
  pollsOpenNow: "Hääletamine käib",
  pollsComing: "Tulemas",
  pollsOpenFromTo: (opens: string, closes: string) => `Hääletada saab ${opens} kuni ${closes}.`,
  voteOnline: "Hääletage veebis",
  voteOnlineHint: "Sisenete riikliku e-ID-ga.",
  liveResults: "Tulemused",
  checkReceipt: "Kontrollige kviitungit",
  auditTitle: "Auditeerige neid valimisi",
  auditIntro:
    "Igaüks saab avatud lähtekoodiga audiitori tööriistaga kontrollida, et avaldatud logi on täielik ja seda pole kunagi ümber kirjutatud.",
  auditLog: "Auditilogi",
  auditKey: "Logi kontrollvõti",
  auditCommand: "Audiitori käsurida",
  checkTitle: "Kviitungi kontrollimine",
  checkIntro:
    "Sisestage kviitungile trükitud jälgimiskood, et näha, kas Teie hääl on kirja läinud. See ei näita, kuidas Te hääletasite.",
  checkLabel: "Jälgimiskood",
  checkHint: "Neli neljast tähest ja numbrist koosnevat rühma, näiteks 7K3M-Q9TX-2D4F-H8JA.",
  checkSubmit: "Kontrolli",
  errorSummaryTitle: "Esines probleem",
  errorPrefix: "Viga",
  checkInvalid: "Sisestage jälgimiskood kujul 7K3M-Q9TX-2D4F-H8JA",
  checkEmpty: "Sisestage kviitungil olev jälgimiskood",
  checkRecordedTitle: "Teie hääl on kirja läinud",
  checkRecordedAt: (at: string) => `Kirja läinud ${at}.`,
  checkInLog: (leafIndex: number) => `See on valimiste avalikus auditilogis kohal ${leafIndex} (lehe indeks).`,
  checkNotInLogYet:
    "See ei ole veel auditilogi avaldatud kontrollpunktis. Tavaliselt võtab see alla minuti: kontrollige varsti uuesti.",
  checkForAuditors: "Audiitoritele",
  checkProof: "Kaasatuse tõend",
  checkCheckpoint: "Allkirjastatud kontrollpunkt",
  checkNotFoundTitle: "Selle jälgimiskoodiga häält ei ole",
  checkNotFound:
    "Kontrollige, et sisestasite koodi täpselt nii, nagu see on trükitud. Viimastel sekunditel antud hääl ei pruugi veel näha olla: proovige minuti pärast uuesti.",
  checkAnother: "Kontrollige teist koodi",
  electionLabel: "Valimised",
  busyTitle: "Teie võrgust on tehtud liiga palju kontrolle",
  busyText:
    "Teie võrgust kontrolliti viimase minuti jooksul nii palju kviitungeid, et peame pausi tegema. Oodake minut ja proovige siis uuesti.",

  auditKeyPlaceholder: "<valimiste korraldaja avaldatud kontrollvõti>",
  auditKeySource:
    "Asendage kohatäide logi kontrollvõtmega valimiste korraldaja enda avaldatud allikast, mitte sellest serverist: selle serveri antud võti ei saa tõestada, et see server on aus. Võite need kaks võrrelda.",
  notFoundTitle: "Lehte ei leitud",
  notFoundText:
    "Sellel aadressil lehte ei ole. Kui sisestasite aadressi ise, kontrollige, et see on õigesti kirjutatud; kui tulite lingi kaudu, võib link olla aegunud.",
  notFoundHome: "Mine valimiste juurde",
  verifyChecking: "Kontrollime avalikku registrit…",
  verifyOkTitle: "Kontrollitud avaliku registri vastu",
  verifyOk:
    "Kinnitatud: Teie hääl on valimiste avalikus registris ja see register on allkirjastatud valimiste korraldaja võtmega.",
  verifyKeyLabel: "Allkirjastatud võtmega nimega",
  verifyKeyIdLabel: "võtme ID",
  verifyKeyCaveat:
    "Teie brauser kontrollis seda ise selle veebilehe antud võtmega. Audiitorid võrdlevad seda võtit sellega, mille valimiste korraldaja ise väljaspool seda veebilehte avaldab: alles siis on tõestatud, et see on korraldaja võti.",
  verifyDetails: "Üksikasjad audiitoritele",
  verifyFactKey: "Kasutatud kontrollvõti",
  verifyFactIndex: "Asukoht logis (lehe indeks)",
  verifyFactTree: "Allkirjastatud kontrollpunkt, kirjeid",
  verifyFactRoot: "Allkirjastatud kontrollpunkt, juurräsi",
  verifyFailedTitle: "Me ei suutnud Teie häält avalikus registris kinnitada",
  verifyFailed:
    "Avalik register, mille see veebileht Teie brauserile andis, ei tõesta, et Teie hääl on selles. See võib tähendada, et registrit on muudetud: teatage sellest valimiste korraldajale, lisades oma jälgimiskoodi ja allolevad üksikasjad.",
  verifyUnavailableTitle: "Avalikku registrit ei õnnestunud praegu kontrollida",
  verifyUnavailable:
    "Teie brauser ei saanud kätte seda, mida registri kontrollimiseks vaja on (võrguprobleem või hõivatud server). See ei räägi midagi Teie hääle vastu: proovige minuti pärast uuesti.",

  signedInTitle: "Olete sisse loginud",
  signedInText: "Viime Teid Teie hääletussedeli juurde.",
  signedInContinue: "Jätka hääletussedeli juurde",
  signOut: "Logi välja",
  signedOutTitle: "Olete välja loginud",
  signedOutText:
    "Teie seanss selles brauseris on lõppenud ja valikud, mida Te ei saatnud, on siin unustatud. Kui Te hääletasite, on Teie hääl kirja läinud.",
  signInAgain: "Logi uuesti sisse",
  backToStart: "Mine avalehele",
  languageLabel: "Keel",
  ballotTitle: "Teie hääletussedel",
  ballotIntro:
    "Tehke oma valik igas hääletuses, seejärel vaadake valikud üle ja saatke oma hääl. Iga hääletuse võite jätta tühjaks.",
  voteForOne: "Hääletage ühe poolt.",
  voteForUpTo: (allowed: number) => `Hääletage kuni ${allowed} poolt. Võite valida ka vähem.`,
  voteYesOrNo: "Hääletage jah või ei.",
  leaveBlank: "Jätan selle hääletuse tühjaks",
  writeInOption: "Sisse kirjutatud kandidaat",
  writeInName: "Teie sisse kirjutatud kandidaadi nimi",
  writeInHint: (max: number) => `Valige „Sisse kirjutatud kandidaat“ ja kirjutage nimi, kuni ${max} tähemärki.`,
  chosenCount: (chosen: number, allowed: number) => `Olete valinud ${chosen} / ${allowed}.`,
  reviewButton: "Vaadake valikud üle",
  revoteNoticeTitle: "Olete juba veebis hääletanud",
  revoteNotice:
    "Võite kuni hääletamise lõpuni veebis uuesti hääletada; arvesse läheb ainult Teie viimane veebihääl. Paberil hääletamine valimisjaoskonnas asendab Teie veebihääle.",
  errorTooMany: (contest: string, allowed: number) =>
    `${contest}: valige kõige rohkem ${allowed}. Jätkamiseks eemaldage üks valik.`,
  errorWriteInMissing: (contest: string) =>
    `${contest}: kirjutage oma sisse kirjutatud kandidaadi nimi või valige keegi teine.`,
  errorWriteInNotChosen: (contest: string) =>
    `${contest}: kirjutasite nime, kuid ei valinud „Sisse kirjutatud kandidaat“. Valige see või kustutage nimi.`,
  errorWriteInTooLong: (contest: string, max: number) =>
    `${contest}: sisse kirjutatud nimi võib olla kuni ${max} tähemärki.`,
  errorWriteInInvalid: (contest: string) =>
    `${contest}: sisse kirjutatud nimes on märke, mida nimes olla ei saa (näiteks reavahetus). Kirjutage nimi uuesti.`,
  errorNotOnBallot: "Üks Teie valikutest ei ole Teie hääletussedelil. Valige uuesti näidatud valikute seast.",
  reviewTitle: "Kontrollige oma valikuid",
  reviewIntro:
    "Midagi pole veel saadetud. Kontrollige iga hääletust ja muutke, mida soovite, seejärel saatke oma hääl.",
  reviewNoVote: "Te ei hääletanud selles hääletuses.",
  reviewNoVoteNote: "See on lubatud: tühi hääletus loetakse tühjaks valikuks.",
  change: "Muuda",
  castButton: "Saatke oma hääl",
  castNote:
    "Hääle saatmisel saate jälgimiskoodiga kviitungi. See näitab, et Teie hääl on kirja läinud, kuid mitte kunagi seda, kuidas Te hääletasite.",
  receiptTitle: "Teie hääl on antud",
  receiptIntro:
    "Hoidke oma jälgimiskood alles. Sellega saate Teie või keegi, keda usaldate, kontrollida, et Teie hääl on kirja läinud.",
  receiptCodeLabel: "Teie jälgimiskood",
  receiptCastAt: (at: string) => `Antud ${at}.`,
  receiptQrAlt: (code: string) => `Kviitungi kontrollimise aadressi QR-kood jälgimiskoodile ${code}`,
  receiptCheckAt: "Kontrollige oma kviitungit aadressil",
  receiptCopy: "Kopeeri jälgimiskood",
  receiptCopied: "Jälgimiskood on kopeeritud",
  receiptPrint: "Prindi kviitung",
  receiptDownload: "Laadi alla allkirjastatud kviitung",
  receiptBack: "Tagasi kviitungi juurde",
  receiptProvesTitle: "Mida see kviitung tõestab",
  receiptProves:
    "See tõestab, et valimisteenus võttis selle jälgimiskoodiga hääle vastu ja allkirjastas selle. Igaüks saab kontrollida, et hääl on avalikus auditilogis.",
  receiptDoesNotShow:
    "See ei näita Teie valikuid. Keegi ei saa sellest teada, kuidas Te hääletasite, seega ei saa keegi Teid sellega oma häält tõestama sundida.",
  receiptFinal: "Teie hääl on lõplik: nendel valimistel läheb arvesse iga valija esimene hääl.",
  stateAlreadyVotedTitle: "Olete juba hääletanud",
  stateAlreadyVoted:
    "Nendel valimistel läheb arvesse iga valija esimene hääl ja Teie hääl on kirja läinud. Uuesti hääletada ei saa.",
  stateYourCode: "Teie hääle jälgimiskood",
  stateCheckLink: "Kontrollige, et Teie hääl on kirja läinud",
  statePaperTitle: "Olete hääletanud paberil",
  statePaper:
    "Teid registreeriti nendel valimistel valimisjaoskonnas paberil hääletamiseks, seega ei saa Te veebis hääletada.",
  statePollsNotOpenTitle: "Hääletamine ei ole veel alanud",
  statePollsNotOpen: (opens: string) => `Veebis hääletamine algab ${opens}. Tulge siis tagasi.`,
  statePollsNotOpenLater: "Veebis hääletamine ei ole veel alanud. Tulge tagasi, kui hääletamine algab.",
  statePollsClosedTitle: "Hääletamine on lõppenud",
  statePollsClosed: "Nende valimiste hääletamine on lõppenud. Rohkem hääli anda ei saa.",
  stateNotOnRollTitle: "Te ei ole valijate nimekirjas",
  stateNotOnRoll:
    "Me ei leidnud Teid nende valimiste valijate nimekirjast. Kui see on Teie arvates vale, võtke ühendust oma valimisbürooga.",
  stateNoBallotStyleTitle: "Teie ringkonnal ei ole hääletussedelit",
  stateNoBallotStyle: "Teie ringkonnal ei ole nendel valimistel hääletussedelit. Võtke ühendust oma valimisbürooga.",
  stateGeofenceTitle: "Veebis hääletamine ei ole Teie asukohast võimalik",
  stateGeofence:
    "Need valimised ei luba veebis hääletada riigist, kust Te ühendute. Saate hääletada valimisjaoskonnas.",
  stateLoginFailedTitle: "Me ei saanud Teid sisse logida",
  stateLoginFailed: "Sisselogimine ei lõppenud või oli juba kasutatud. Alustage uuesti algusest.",
  stateAssuranceTitle: "Selle sisselogimisega ei saa hääletada",
  stateAssurance:
    "Hääletamiseks on vaja sisse logida riikliku e-ID kaardi või rakendusega. Logige uuesti sisse ühega neist.",
  stateEidUnavailableTitle: "Riiklik e-ID teenus ei vasta",
  stateEidUnavailable: "Me ei saanud riikliku e-ID teenusega ühendust. Oodake mõni minut ja proovige siis uuesti.",
  stateOverloadedTitle: "Teie häält ei ole veel antud",
  stateOverloaded:
    "Praegu hääletab nii palju inimesi, et me ei saanud Teie sedelit kohe vastu võtta. Midagi ei salvestatud. Minge tagasi oma hääletussedeli juurde, kus Teie valikud on alles, ja andke hääl mõne sekundi pärast uuesti.",
  stateBusyTitle: "Liiga palju katseid",
  stateBusy:
    "Teie võrgust või kontolt tuli viimase minuti jooksul liiga palju katseid. Oodake minut ja proovige siis uuesti.",
  stateCsrfTitle: "Seda vormi ei saanud vastu võtta",
  stateCsrf:
    "Vorm ei tulnud selle teenuse enda lehelt Teie praeguses seansis, seega midagi ei muudetud. Minge tagasi oma hääletussedeli juurde ja proovige uuesti.",
  stateSupersededTitle: "See hääl asendati",
  stateSuperseded: "Te andsite pärast seda veel ühe hääle. Arvesse läheb Teie viimane veebihääl.",
  stateConflictTitle: "Teie häält ei saanud saata",
  stateConflict:
    "See päring ei vastanud Teie varasemale. Minge tagasi oma hääletussedeli juurde, vaadake valikud üle ja saatke need uuesti.",
  stateNotFoundTitle: "Selliseid valimisi ei ole",
  stateNotFound: "Sellel aadressil valimisi ei ole. Kontrollige aadressi või minge avalehele.",
  goToBallot: "Minge oma hääletussedeli juurde",
  // An election whose voting an administrator closed early, on the home page.
  pollsEndedEarly: "Hääletamine on lõppenud",
  pollsEndedEarlyAt: (ended: string) => `Hääletamine lõpetati ennetähtaegselt ${ended}. Rohkem hääli vastu ei võeta.`,

  // Tulemuste leht (results-page).
  resultsTitle: "Tulemused reaalajas",
  resultsTurnoutTitle: "Valimisaktiivsus",
  resultsBallotsOf: "sedelit loetud",
  resultsRegisteredVoters: "registreeritud valijast",
  resultsTurnoutCaption: "Valimisaktiivsus ringkonniti",
  resultsDistrict: "Ringkond",
  resultsBallots: "Loetud sedeleid",
  resultsRegistered: "Registreeritud valijaid",
  resultsTurnout: "Aktiivsus",
  resultsAllDistricts: "Kõik ringkonnad",
  resultsOption: "Kandidaat või vastus",
  resultsVotes: "Hääli",
  resultsShare: "Häälte osakaal",
  resultsWriteIns: "Sisse kirjutatud kandidaadid",
  resultsBlanks: "Sedeleid, kus see hääletus jäeti tühjaks:",
  resultsByDistrict: "Tulemused ringkonniti",
  resultsUpdated: "Uuendatud",
  resultsAsOf: (time: string) => `andmed seisuga ${time}`,
  resultsNotYet: "Andmeid ei ole veel avaldatud.",
  resultsRefresh: "Värskenda andmeid",
  resultsStatic: "See leht ei uuene ise: uuemate andmete nägemiseks värskendage lehte.",
  resultsLinkConnecting: "Ühendumine reaalajas uuendustega…",
  resultsLinkLive: "Reaalajas: andmed uuenevad ise.",
  resultsLinkReconnecting: "Ühendus katkes. Ühendume uuesti…",
  resultsLinkPolling: "Reaalajas ühendus ei ole saadaval. Kontrollime uusi andmeid iga paari sekundi järel.",
  resultsLinkOffline: "Võrguühendus puudub. Näidatud andmed võivad olla vananenud.",
  resultsKindPending: (k: number) =>
    `Andmeid veel ei ole. Ringkonna andmed ilmuvad, kui selle ringkonna sedeleid on loetud vähemalt ${k}.`,
  resultsKindSnapshot: (k: number) =>
    `Hääletamine käib, seega ei ole need lõplikud tulemused. Hääletamise salajasuse kaitseks muutuvad ringkonna andmed ainult vähemalt ${k} sedeli kaupa.`,
  resultsKindExact: "Hääletamine on lõppenud. Need on kõigi seni loetud sedelite täpsed tulemused.",
  resultsKindTurnoutOnly:
    "Nende valimiste tulemused avaldatakse alles pärast hääletamise lõppu. Seni näitab see leht ainult valimisaktiivsust.",
  resultsBadQueryTitle: "Selle tulemuste aadressiga on midagi valesti",
  resultsBadQuery:
    "Aadressis on seade, mida me ei tunne, seega ei saa me sellega tulemusi näidata. Avage tulemuste leht ilma selleta.",
  resultsOpenPage: "Ava tulemuste leht",
};

const CATALOGUES: Readonly<Record<string, Messages>> = { en, et };

export const DEFAULT_LANGUAGE = "en";

/** A language a voter may ask for (`?lang=`): a BCP 47 tag's shape, nothing longer. */
export const LanguageTag = z
  .string()
  .max(35)
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/);

/** The languages the pages' own texts are written in, English first. */
export const PAGE_LANGUAGES: readonly string[] = Object.keys(CATALOGUES);

/** The catalogue for a language tag, or English when there is none for it. */
export function messagesFor(language: string): { readonly language: string; readonly t: Messages } {
  const base = language.toLowerCase().split("-")[0] ?? DEFAULT_LANGUAGE;
  const t = CATALOGUES[base];
  return t ? { language: base, t } : { language: DEFAULT_LANGUAGE, t: en };
}
